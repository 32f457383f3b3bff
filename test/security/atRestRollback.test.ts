/**
 * Security round 2, finding 6: someone with write access to the storage (Redis, the file
 * directory) but not the encryption keys. What is sealed is bound to the session's version
 * and creation time, so a copy whose clear metadata disagrees with what is sealed (an older
 * sealed document under the current version, a moved creation time, a deleted or rolled
 * back redis-hash field) is refused like any value that does not decrypt: Redis fails the
 * call INTERNAL, logs it and deletes nothing. A file's moved mtime cannot carry a session
 * past the lifetime its sealed creation time gives. A whole earlier record, consistent in
 * itself, still reads: no storage without state of its own can tell (README, "Stored data").
 *
 * Real redis-server, real files; sub-second lifetimes where time matters.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, statSync, utimesSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { resolveLimits } from "../../src/core/Limits.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { KeyRing } from "../../src/core/storage/KeyRing.js";
import type { ApplyMode, ApplyOptions, Expiry, Op } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { memoryLogger, uniquePrefix } from "../support/redisStorages.js";

const LONG: Expiry = { ttlMs: 60_000 };
const ID_KEY = randomBytes(32);
const KEY = randomBytes(32);
const YEAR = 365 * 24 * 3600 * 1000;

function opts(mode: ApplyMode, expiry: Expiry = LONG): ApplyOptions {
  return { ...expiry, mode, limits: resolveLimits() };
}
const set = (key: string, value: unknown): Op => ({ type: "set", key, value: value as never });
const remove = (key: string): Op => ({ type: "remove", key });
const internal = (err: unknown) => err instanceof SessionError && err.code === "internal";

let redis: RedisProcess;
let admin: Redis;
let base: string;
before(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  base = mkdtempSync(join(tmpdir(), "sessiond-rollback-"));
});
after(async () => {
  admin?.disconnect();
  await redis?.stop();
  await rm(base, { recursive: true, force: true });
});

function redisPlace(kind: "redis" | "redis-hash") {
  const logger = memoryLogger();
  const inner = createRedisStorage(
    kind,
    { url: redis.url, prefix: uniquePrefix(), encryptionKeys: [KEY], ids: "raw" },
    logger,
  );
  const storage = new HashedIdStorage(inner, ID_KEY);
  const keyOf = async (id: string) => inner.keyOf(await storage.storedId(id));
  const errors = () => logger.lines.filter((l) => l.level === "error");
  return { storage, keyOf, errors };
}

/** Every way a caller reaches the session refuses it (a write never overwrites it). */
async function allRefused(storage: HashedIdStorage, id: string, key: string, why: string) {
  await assert.rejects(storage.read(id, LONG), internal, `${why}: read`);
  await assert.rejects(storage.readKey(id, key, LONG), internal, `${why}: readKey`);
  await assert.rejects(
    storage.apply(id, { ops: [set("other", 1)] }, opts("existing")),
    internal,
    `${why}: a write`,
  );
}

describe("encrypted redis: the clear version and creation time are bound to the sealed document", () => {
  test("an older sealed document put back under the current version is refused (a demotion is not undone)", async () => {
    const { storage, keyOf, errors } = redisPlace("redis");
    const id = newSessionId();
    await storage.apply(id, { ops: [set("role", "admin")] }, opts("create"));
    const key = await keyOf(id);
    const v1 = (await admin.get(key)) as string;
    await storage.apply(id, { ops: [set("role", "user")] }, opts("existing"));
    const v2 = (await admin.get(key)) as string;
    const [, create] = v2.split(" ");
    // v2's clear prefix, v1's sealed document.
    await admin.set(key, `2 ${create} ${v1.split(" ")[2]}`, "PX", 60_000);
    await allRefused(storage, id, "role", "older document, current version");
    assert.match(String(errors()[0]?.msg), /put back from an earlier version/);
    assert.equal(await admin.exists(key), 1, "left in place");
    // The limit (README): the whole earlier record, consistent in itself, still reads.
    await admin.set(key, v1, "PX", 60_000);
    assert.deepEqual((await storage.read(id, LONG))?.data, { role: "admin" });
    await storage.close();
  });

  test("a creation time moved a year ahead is refused, and does not restart the absolute lifetime", async () => {
    const { storage, keyOf, errors } = redisPlace("redis");
    const life: Expiry = { ttlMs: 60_000, maxLifetimeMs: 400 };
    const id = newSessionId();
    const created = await storage.apply(id, { ops: [set("role", "admin")] }, opts("create", life));
    const key = await keyOf(id);
    const stored = (await admin.get(key)) as string;
    const [version, create, sealed] = stored.split(" ");
    assert.equal(Number(create), created?.createTime);
    await admin.set(key, `${version} ${Number(create) + YEAR} ${sealed}`, "PX", 60_000);
    await assert.rejects(storage.read(id, life), internal, "moved ahead");
    await assert.rejects(storage.readKey(id, "role", life), internal);
    // Past the real lifetime, still nothing reads through the moved creation time.
    await sleep(Math.max(0, Number(create) + 450 - Date.now()));
    await assert.rejects(storage.read(id, life), internal, "past the lifetime");
    assert.ok(errors().length >= 3);
    // Put back as it was, the session is past its lifetime: gone.
    await admin.set(key, stored, "PX", 60_000);
    assert.equal(await storage.read(id, life), undefined);
    await storage.close();
  });
});

describe("encrypted redis-hash: fields are bound to the version they were written at, and counted", () => {
  async function session() {
    const place = redisPlace("redis-hash");
    const id = newSessionId();
    await place.storage.apply(
      id,
      { ops: [set("role", "admin"), set("name", "ann"), set("banned", false)] },
      opts("create"),
    );
    return { ...place, id, key: await place.keyOf(id) };
  }

  test("one field deleted is refused, whichever key is read", async () => {
    const { storage, id, key, errors } = await session();
    // A logout flag, or a ban, removed behind the storage's back.
    await storage.apply(id, { ops: [set("banned", true)] }, opts("existing"));
    await admin.hdel(key, "banned");
    await allRefused(storage, id, "banned", "deleted field, read by its name");
    await assert.rejects(storage.readKey(id, "name", LONG), internal, "read by another key");
    assert.ok(
      errors().some((l) => /lists 3 keys, the hash holds 2/.test(String(l.fields?.reason))),
    );
    await storage.close();
  });

  test("one field's older sealed value put back is refused (a demotion is not undone)", async () => {
    const { storage, id, key } = await session();
    const admin1 = (await admin.hget(key, "role")) as string;
    await storage.apply(id, { ops: [set("role", "user")] }, opts("existing"));
    await admin.hset(key, "role", admin1);
    await allRefused(storage, id, "role", "older value of one field");
    assert.deepEqual(await storage.readKey(id, "name", LONG), { found: true, value: "ann" });
    await storage.close();
  });

  test("a removed field put back is refused, and so is an earlier manifest beside later values", async () => {
    const { storage, id, key } = await session();
    const meta1 = (await admin.hget(key, "")) as string;
    const banned = (await admin.hget(key, "banned")) as string;
    await storage.apply(id, { ops: [remove("banned"), set("name", "bob")] }, opts("existing"));
    const meta2 = (await admin.hget(key, "")) as string;
    await admin.hset(key, "banned", banned);
    await allRefused(storage, id, "banned", "removed field put back");
    await admin.hdel(key, "banned");
    assert.deepEqual((await storage.read(id, LONG))?.data, { role: "admin", name: "bob" });
    // v1's metadata (and manifest, which lists "name" at version 1) beside v2's "name".
    await admin.hset(key, "", meta1, "banned", banned);
    await allRefused(storage, id, "name", "earlier manifest, later value");
    await admin.hdel(key, "banned");
    await admin.hset(key, "", meta2);
    assert.deepEqual((await storage.read(id, LONG))?.data, { role: "admin", name: "bob" });
    await storage.close();
  });

  test("a creation time moved a year ahead is refused", async () => {
    const { storage, id, key } = await session();
    const meta = (await admin.hget(key, "")) as string;
    const [version, create, ...rest] = meta.split(" ");
    await admin.hset(key, "", [version, Number(create) + YEAR, ...rest].join(" "));
    await allRefused(storage, id, "role", "moved creation time");
    await admin.hset(key, "", meta);
    assert.deepEqual(await storage.readKey(id, "role", LONG), { found: true, value: "admin" });
    await storage.close();
  });
});

describe("upgrading: sessions sealed by the previous release", () => {
  const ring = new KeyRing([KEY]);
  const seal = (text: string, aad: string) =>
    ring.seal(Buffer.from(text), Buffer.from(aad)).toString("base64");

  test("redis and redis-hash: still read, and are sealed again in the bound format", async () => {
    for (const kind of ["redis", "redis-hash"] as const) {
      const { storage, keyOf } = redisPlace(kind);
      const id = newSessionId();
      const key = await keyOf(id);
      const create = Date.now();
      // What the previous release stored: seals bound to the key (and field) only.
      if (kind === "redis") {
        const doc = seal(JSON.stringify({ role: "user" }), `sessiond-redis/1 kv ${key}`);
        await admin.set(key, `3 ${create} ${doc}`, "PX", 60_000);
      } else {
        const value = seal('"user"', `sessiond-redis/1 hash ${key}\nrole`);
        await admin.hset(key, "", `3 ${create} 10`, "role", value);
        await admin.pexpire(key, 60_000);
      }
      const raw = async () =>
        JSON.stringify(kind === "redis" ? await admin.get(key) : await admin.hgetall(key));
      const before = await raw();
      assert.deepEqual((await storage.read(id, LONG))?.data, { role: "user" }, kind);
      // Sealed again in the background, same version and content.
      for (let i = 0; i < 100 && (await raw()) === before; i++) await sleep(20);
      assert.notEqual(await raw(), before, `${kind}: sealed again`);
      if (kind === "redis-hash") {
        assert.match((await admin.hget(key, "")) as string, /^3 \d+ 10 [A-Za-z0-9+/=]+$/);
      }
      const record = await storage.read(id, LONG);
      assert.equal(record?.version, 3);
      assert.equal(record?.createTime, create);
      assert.deepEqual(record?.data, { role: "user" });
      await storage.close();
    }
  });
});

describe("encrypted file: a moved mtime does not outlive the sealed lifetime", () => {
  test("after the absolute lifetime, no read succeeds with the mtime moved a day ahead", async () => {
    const dir = join(base, uniquePrefix());
    const inner = new FileStorage({ dir, encryptionKeys: [KEY], ids: "raw" }); // wrapped below
    const storage = new HashedIdStorage(inner, ID_KEY);
    const life: Expiry = { ttlMs: 60_000, maxLifetimeMs: 300 };
    const ids = [newSessionId(), newSessionId(), newSessionId(), newSessionId()];
    let createTime = 0;
    for (const id of ids) {
      const made = await storage.apply(id, { ops: [set("role", "admin")] }, opts("create", life));
      createTime = Math.max(createTime, made?.createTime ?? 0);
    }
    const path = async (id: string) => join(dir, `${await storage.storedId(id)}.session`);
    // Read once inside the lifetime (the read cache then holds it).
    assert.equal((await storage.read(ids[0] as string, life))?.data.role, "admin");
    await sleep(Math.max(0, createTime + 350 - Date.now()));
    const dayAhead = (Date.now() + 24 * 3600 * 1000) / 1000;
    for (const id of ids) utimesSync(await path(id), dayAhead, dayAhead);
    assert.ok(statSync(await path(ids[0] as string)).mtimeMs > Date.now());
    const [a, b, c, d] = ids as [string, string, string, string];
    assert.equal(await storage.read(a, life), undefined, "read");
    assert.equal(await storage.readKey(b, "role", life), undefined, "readKey");
    assert.equal(await storage.touch(c, life), undefined, "touch");
    assert.equal(
      await storage.apply(d, { ops: [set("x", 1)] }, opts("existing", life)),
      undefined,
      "a write to an existing session",
    );
    for (const id of ids) assert.ok(!existsSync(await path(id)), "deleted as expired");
    assert.equal(inner.expired, 4);
    await storage.close();
  });
});
