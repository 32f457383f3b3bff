/**
 * Issue 10, at rest: key rotation on every encrypting storage (file, redis, redis-hash),
 * values bound to their session and key, and the id-hash key's defaults (kept in the file
 * directory, kept in Redis and shared by every instance) and settings.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { ConfigError } from "../../src/core/ConfigError.js";
import { resolveLimits } from "../../src/core/Limits.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { keyId } from "../../src/core/storage/KeyRing.js";
import type { ApplyMode, ApplyOptions } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { redisIdHashKey } from "../../src/redis/redisIdHashKey.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { startServer } from "../../src/server/startServer.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { memoryLogger, redisOf, uniquePrefix } from "../support/redisStorages.js";
import { sessionClient, unary } from "../support/serverClients.js";

const KINDS = ["file", "redis", "redis-hash"] as const;
type Kind = (typeof KINDS)[number];
const LONG = { ttlMs: 60_000 };
const ID_KEY = randomBytes(32);
const A = randomBytes(32);
const B = randomBytes(32);

function opts(mode: ApplyMode): ApplyOptions {
  return { ...LONG, mode, limits: resolveLimits() };
}

const internal = (err: unknown) => err instanceof SessionError && err.code === "internal";

let redis: RedisProcess;
let admin: Redis;
let base: string;
before(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url);
  base = mkdtempSync(join(tmpdir(), "sessiond-atrest-keys-"));
});
after(async () => {
  admin?.disconnect();
  await redis?.stop();
  await rm(base, { recursive: true, force: true });
});

/** One kind's storage at one place (a directory or a prefix), reopened with other keys. */
function place(kind: Kind) {
  const where = kind === "file" ? join(base, uniquePrefix()) : uniquePrefix();
  const open = (keys: Buffer[]) => {
    const logger = memoryLogger();
    const inner =
      kind === "file"
        ? new FileStorage({ dir: where, logger, encryptionKeys: keys, ids: "raw" })
        : createRedisStorage(
            kind,
            { url: redis.url, prefix: where, encryptionKeys: keys, ids: "raw" },
            logger,
          );
    return { inner, logger, storage: new HashedIdStorage(inner, ID_KEY) };
  };
  /** The key id each stored value was sealed under, by key ("*" for a whole document). */
  const sealedUnder = async (id: string): Promise<Record<string, string>> => {
    const stored = await new HashedIdStorage(new MemoryStorage(), ID_KEY).storedId(id);
    if (kind === "file") {
      // "SDG2" | key id | iv | tag | ciphertext.
      const file = readFileSync(join(where, `${stored}.session`));
      return { "*": file.subarray(4, 8).toString("hex") };
    }
    const kid = (b64: string) => Buffer.from(b64, "base64").subarray(0, 4).toString("hex");
    if (kind === "redis") {
      const raw = (await admin.get(`${where}{${stored.slice(0, 4)}}${stored}`)) as string;
      return { "*": kid(raw.split(" ")[2] as string) };
    }
    const all = await admin.hgetall(`${where}{${stored.slice(0, 4)}}${stored}:hash`);
    const out: Record<string, string> = {};
    for (const [field, value] of Object.entries(all)) if (field !== "") out[field] = kid(value);
    return out;
  };
  return { open, sealedUnder, where };
}

const hex = (key: Buffer) => keyId(key).toString("hex");

describe("key rotation: the first key encrypts, every key decrypts", () => {
  const set = (key: string, value: string) => ({ type: "set" as const, key, value });

  for (const kind of KINDS) {
    test(`${kind}: written under A, read after rotating to [B, A], sealed again under B`, async () => {
      const at = place(kind);
      const [read, written, untouched] = [newSessionId(), newSessionId(), newSessionId()];
      const first = at.open([A]);
      for (const id of [read, written, untouched]) {
        await first.storage.apply(id, { ops: [set("x", "one"), set("y", "two")] }, opts("create"));
      }
      await first.storage.close();
      for (const id of [read, written, untouched]) {
        const kids = Object.values(await at.sealedUnder(id));
        assert.ok(kids.length > 0 && kids.every((kid) => kid === hex(A)), "sealed under A");
      }

      const rotated = at.open([B, A]);
      // A read opens A's seal, and seals the session again under B (redis: in the background),
      // same content, same version.
      const got = await rotated.storage.read(read, LONG);
      assert.deepEqual(got?.data, { x: "one", y: "two" }, "A's data reads");
      const allB = async (id: string) =>
        Object.values(await at.sealedUnder(id)).every((kid) => kid === hex(B));
      for (let i = 0; i < 100 && !(await allB(read)); i++) await sleep(20);
      assert.ok(await allB(read), "a read sealed it again under B");
      assert.equal((await rotated.storage.read(read, LONG))?.version, 1, "no new version");
      // A write seals everything again, the keys it did not change included.
      await rotated.storage.apply(written, { ops: [set("x", "three")] }, opts("existing"));
      assert.ok(await allB(written), "a write sealed it all under B");
      await rotated.storage.close();

      // A retired: what was used since the rotation reads; what was not does not, loudly.
      const onlyB = at.open([B]);
      assert.deepEqual((await onlyB.storage.read(read, LONG))?.data, { x: "one", y: "two" });
      assert.deepEqual((await onlyB.storage.read(written, LONG))?.data, { x: "three", y: "two" });
      if (kind === "file") {
        assert.equal(await onlyB.storage.read(untouched, LONG), undefined, "moved aside");
        const line = onlyB.logger.lines.find((l) => l.level === "warn");
        assert.match(String(line?.fields?.reason), /not among the configured encryption keys/);
      } else {
        await assert.rejects(onlyB.storage.read(untouched, LONG), internal);
        const line = onlyB.logger.lines.find((l) => l.level === "error");
        assert.match(String(line?.msg), /does not decrypt/);
        assert.match(String(line?.fields?.reason), /not among the configured encryption keys/);
      }
      await onlyB.storage.close();
    });
  }
});

describe("encrypted redis writes across instances (read-modify-write, compare-and-set)", () => {
  for (const kind of ["redis", "redis-hash"] as const) {
    test(`${kind}: 60 concurrent increments through two instances add up exactly`, async () => {
      const prefix = uniquePrefix();
      const instance = () =>
        new HashedIdStorage(
          createRedisStorage(
            kind,
            { url: redis.url, prefix, encryptionKeys: [A], ids: "raw" },
            memoryLogger(),
          ),
          ID_KEY,
        );
      const both = [instance(), instance()];
      const id = newSessionId();
      await both[0]?.apply(id, { ops: [{ type: "set", key: "n", value: 0 }] }, opts("create"));
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          (both[i % 2] as HashedIdStorage).apply(
            id,
            {
              ops: [
                { type: "increment", key: "n", delta: 1 },
                { type: "set", key: `k${i}`, value: i },
              ],
            },
            opts("existing"),
          ),
        ),
      );
      const seen = results.map((r) => r?.incremented.n).sort((x, y) => (x ?? 0) - (y ?? 0));
      assert.deepEqual(
        seen,
        Array.from({ length: 60 }, (_, i) => i + 1),
        "each saw its own value",
      );
      const record = await both[1]?.read(id, LONG);
      assert.equal(record?.data.n, 60);
      assert.equal(record?.version, 61);
      assert.equal(Object.keys(record?.data ?? {}).length, 61, "no write lost another's key");
      for (const s of both) await s.close();
    });
  }
});

describe("a sealed value is bound to its session and key", () => {
  test("redis: a document copied to another session fails (internal, a clear log line, nothing else lost)", async () => {
    const at = place("redis");
    const { storage, inner, logger } = at.open([A]);
    const [victim, attacker] = [newSessionId(), newSessionId()];
    await storage.apply(
      victim,
      { ops: [{ type: "set", key: "role", value: "user" }] },
      opts("create"),
    );
    await storage.apply(
      attacker,
      { ops: [{ type: "set", key: "role", value: "admin" }] },
      opts("create"),
    );
    const keyOf = async (id: string) => redisOf(inner).keyOf(await storage.storedId(id));
    await admin.set(
      await keyOf(victim),
      (await admin.get(await keyOf(attacker))) as string,
      "PX",
      60_000,
    );
    await assert.rejects(storage.read(victim, LONG), internal);
    await assert.rejects(storage.readKey(victim, "role", LONG), internal);
    await assert.rejects(
      storage.apply(victim, { ops: [{ type: "set", key: "b", value: 1 }] }, opts("existing")),
      internal,
      "a write does not overwrite what it could not read",
    );
    const lines = logger.lines.filter((l) => l.level === "error");
    assert.equal(lines.length, 3);
    assert.match(lines[0]?.msg as string, /moved from another session or key/);
    assert.deepEqual((await storage.read(attacker, LONG))?.data, { role: "admin" });
    assert.ok(await admin.exists(await keyOf(victim)), "the moved value is left in place");
    await storage.close();
  });

  test("redis-hash: a value moved to another key or another session fails; the others read", async () => {
    const at = place("redis-hash");
    const { storage, inner, logger } = at.open([A]);
    const [one, two] = [newSessionId(), newSessionId()];
    await storage.apply(
      one,
      {
        ops: [
          { type: "set", key: "role", value: "user" },
          { type: "set", key: "admin", value: true },
        ],
      },
      opts("create"),
    );
    await storage.apply(
      two,
      { ops: [{ type: "set", key: "role", value: "guest" }] },
      opts("create"),
    );
    const hashOf = async (id: string) => redisOf(inner).keyOf(await storage.storedId(id));
    const sealedAdmin = (await admin.hget(await hashOf(one), "admin")) as string;
    await admin.hset(await hashOf(one), "role", sealedAdmin);
    await admin.hset(await hashOf(two), "admin", sealedAdmin);
    await assert.rejects(storage.readKey(one, "role", LONG), internal, "moved to another key");
    await assert.rejects(storage.readKey(two, "admin", LONG), internal, "moved to another session");
    assert.deepEqual(await storage.readKey(one, "admin", LONG), { found: true, value: true });
    const lines = logger.lines.filter((l) => l.level === "error");
    assert.deepEqual(
      lines.map((l) => l.fields?.key),
      ["role", "admin"],
      "each log line names the key whose value failed",
    );
    // A key added to a session is seen by a read of any other key (the sealed manifest's count).
    await assert.rejects(storage.readKey(two, "role", LONG), internal, "a key was added");
    await storage.close();
  });
});

describe("the id-hash key", () => {
  test("file: generated once in the directory (0600) and reused, so sessions survive a restart", async () => {
    const dir = join(base, uniquePrefix());
    const settings = { port: 0, storage: "file" as const, fileDir: dir };
    let running = await startServer(settings);
    let client = sessionClient(running.address);
    const { response } = await unary(client, client.set, { key: "k", value: "v" });
    client.close();
    await running.shutdown();
    const keyFile = join(dir, ".id-hash-key");
    const kept = readFileSync(keyFile, "utf8");
    assert.match(kept, /^[0-9a-f]{64}\n$/);
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    running = await startServer(settings);
    client = sessionClient(running.address);
    const got = await unary(client, client.get, { key: "k" }, response.sessionId);
    assert.deepEqual(got.response, { value: "v", found: true });
    client.close();
    await running.shutdown();
    assert.equal(readFileSync(keyFile, "utf8"), kept, "the key is never rewritten");
  });

  test("redis: kept under the prefix, shared by every instance, put back by a ping when lost", async () => {
    const prefix = uniquePrefix();
    const instance = () => {
      const inner = createRedisStorage(
        "redis-hash",
        { url: redis.url, prefix, ids: "raw" },
        memoryLogger(),
      );
      return new HashedIdStorage(inner, redisIdHashKey(inner.connection, prefix));
    };
    const [one, two] = [instance(), instance()];
    const id = newSessionId();
    await one.apply(id, { ops: [{ type: "set", key: "k", value: 1 }] }, opts("create"));
    assert.deepEqual((await two.read(id, LONG))?.data, { k: 1 }, "the other instance finds it");
    const name = `${prefix}id-hash-key`;
    const kept = await admin.get(name);
    await admin.del(name);
    await one.ping();
    assert.equal(await admin.get(name), kept, "a ping put the same key back");
    await admin.set(name, randomBytes(32).toString("hex"));
    await assert.rejects(two.ping(), (err: unknown) => {
      assert.ok(err instanceof SessionError && err.code === "unavailable");
      assert.match(err.message, /different id-hash key.*--id-hash-key-file/);
      return true;
    });
    await one.close();
    await two.close();
  });

  test("settings: key files and key lists are parsed; a bad one is one clear line", () => {
    const keyFile = join(base, "keys.txt");
    writeFileSync(
      keyFile,
      `# rotated 2026-12\n${B.toString("hex")}\n\n${A.toString("base64")}  # old\n`,
    );
    const idFile = join(base, "id-key.txt");
    writeFileSync(idFile, `${ID_KEY.toString("hex")}\n`);
    const { config } = parseConfig(
      ["--encryption-key-file", keyFile, "--id-hash-key-file", idFile],
      {},
    );
    assert.deepEqual(config.encryptionKeyFile, [B, A]);
    assert.deepEqual(config.idHashKey, ID_KEY);
    const list = parseConfig([], {
      SESSIOND_ENCRYPTION_KEYS: `${B.toString("hex")},${A.toString("hex")}`,
    });
    assert.deepEqual(list.config.encryptionKeys, [B, A]);

    const refused = (argv: string[], env: Record<string, string>, pattern: RegExp) =>
      assert.throws(
        () => parseConfig(argv, env),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, pattern);
          assert.ok(!err.message.includes(A.toString("hex")), "a key is never echoed");
          return true;
        },
      );
    refused(
      [],
      { SESSIOND_ENCRYPTION_KEYS: `${A.toString("hex")},short` },
      /ENCRYPTION_KEYS.*key 2 is not.*value hidden/,
    );
    writeFileSync(idFile, "too short\n");
    refused(["--id-hash-key-file", idFile], {}, /--id-hash-key-file.*at least 32 bytes/);
    refused(["--id-hash-key-file", join(base, "missing")], {}, /reading it failed: ENOENT/);
    refused(
      [],
      {
        SESSIOND_FILE_ENCRYPTION_KEY: A.toString("hex"),
        SESSIOND_ENCRYPTION_KEYS: B.toString("hex"),
      },
      /FILE_ENCRYPTION_KEY and SESSIOND_ENCRYPTION_KEYS: expected at most one/,
    );
  });
});
