/**
 * Request records on the encrypted Redis storages across the upgrade to SessionEngine:
 * records the previous version wrote (the plain scripts' format `{f,e,s,r:[reply...]}`,
 * with a refusal's words and an apply's increments sealed) still replay for their window,
 * for every operation; and what is written now keeps nothing in clear but its expiry.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import { resolveLimits } from "../../src/core/Limits.js";
import { refusalError } from "../../src/core/Refusal.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { KeyRing } from "../../src/core/storage/KeyRing.js";
import type { Idempotency } from "../../src/core/storage/Storage.js";
import { EncryptedRedisHashStorage } from "../../src/redis/storage/EncryptedRedisHashStorage.js";
import { EncryptedRedisStorage } from "../../src/redis/storage/EncryptedRedisStorage.js";
import { startRedis } from "../support/redisServers.js";
import { uniquePrefix } from "../support/redisStorages.js";

const redis = await startRedis();
after(() => redis.stop());

const LONG = { ttlMs: 60_000 };
const limits = resolveLimits();
const hex = () => createHash("sha256").update(randomBytes(16)).digest("hex");

for (const Kind of [EncryptedRedisStorage, EncryptedRedisHashStorage]) {
  describe(`${Kind.name}: request records of the previous version`, () => {
    const keys = [randomBytes(32)];
    const ring = new KeyRing(keys);
    const storage = new Kind(new Redis(redis.url), {
      prefix: uniquePrefix(),
      encryptionKeys: keys,
      ownsClient: true,
    });
    const admin = new Redis(redis.url);
    after(async () => {
      admin.disconnect();
      await storage.close();
    });

    /** Writes a record as the previous version did, under `records` (a hash) and idem.key. */
    async function oldRecord(
      records: string,
      idem: Idempotency,
      reply: (seal: (text: string) => string) => string[],
    ): Promise<void> {
      const aad = Buffer.from(`sessiond-redis/1 request ${records}\n${idem.key}`);
      const seal = (text: string) => ring.seal(Buffer.from(text), aad).toString("base64");
      const e = String(Date.now() + idem.windowMs);
      const rec = { f: idem.fingerprint, e, s: idem.sealedId ?? "", r: reply(seal) };
      await admin.hset(records, idem.key, JSON.stringify(rec));
    }

    const idem = (sealedId?: string): Idempotency => ({
      key: hex(),
      fingerprint: hex(),
      windowMs: 60_000,
      ...(sealedId === undefined ? {} : { sealedId }),
    });

    async function seeded(): Promise<string> {
      const id = newSessionId();
      await storage.apply(
        id,
        { ops: [{ type: "set", key: "n", value: 5 }] },
        { ...LONG, limits, mode: "create" },
      );
      return id;
    }

    test("an apply's, with its sealed increments, replays them", async () => {
      const id = await seeded();
      const same = idem();
      await oldRecord(storage.keys.requests(id), same, (seal) => [
        "ok",
        "7",
        "1000",
        "2000",
        seal(JSON.stringify([["n", 9]])),
      ]);
      const options = { ...LONG, limits, mode: "existing" as const, idempotency: same };
      const inc = { ops: [{ type: "increment" as const, key: "n", delta: 1 }] };
      const retry = await storage.apply(id, inc, options);
      assert.deepEqual(retry, {
        version: 7,
        createTime: 1000,
        expireTime: 2000,
        incremented: { n: 9 },
        replayed: true,
      });
      assert.deepEqual((await storage.read(id, LONG))?.data, { n: 5 }, "nothing applied");
      await assert.rejects(
        storage.apply(id, inc, { ...options, idempotency: { ...same, fingerprint: hex() } }),
        {
          code: "already_exists",
        },
      );
    });

    test("a create's, found by its request key, replays with its sealed id", async () => {
      const id = newSessionId();
      const same = idem("c2VhbGVk");
      await oldRecord(storage.keys.createRecord(id, same.key), same, () => [
        "ok",
        "1",
        "1000",
        "2000",
      ]);
      const options = { ...LONG, limits, mode: "create" as const, idempotency: same };
      const retry = await storage.apply(
        id,
        { ops: [{ type: "set", key: "a", value: 1 }] },
        options,
      );
      assert.equal(retry?.replayed, true);
      assert.equal(retry?.sealedId, "c2VhbGVk");
      assert.deepEqual(retry?.incremented, {});
      assert.equal(await storage.read(id, LONG), undefined, "the retry created nothing");
    });

    test("a refusal's sealed words replay as the same refusal", async () => {
      const id = await seeded();
      const same = idem();
      const refused = refusalError({ kind: "notNumber", key: "n", holds: "string" });
      await oldRecord(storage.keys.requests(id), same, (seal) => [
        "refused",
        refused.code,
        seal(refused.message),
      ]);
      const options = { ...LONG, limits, mode: "existing" as const, idempotency: same };
      const inc = { ops: [{ type: "increment" as const, key: "n", delta: 1 }] };
      await assert.rejects(storage.apply(id, inc, options), (err: Error & { code?: string }) => {
        assert.equal(err.code, "failed_precondition");
        assert.equal(err.message, refused.message);
        return true;
      });
      assert.deepEqual((await storage.read(id, LONG))?.data, { n: 5 });
    });

    test("a touch's, a regenerate's and a destroy's replay", async () => {
      const id = await seeded();
      const records = storage.keys.requests(id);
      const touch = idem();
      await oldRecord(records, touch, () => ["3", "1000", "2000"]);
      assert.deepEqual(await storage.touch(id, { ...LONG, idempotency: touch }), {
        version: 3,
        createTime: 1000,
        expireTime: 2000,
        replayed: true,
      });
      const regenerate = idem("Zmlyc3Q");
      await oldRecord(records, regenerate, () => ["ok", "1", "1000", "2000"]);
      const moved = await storage.regenerate(id, newSessionId(), {
        ...LONG,
        keepOld: false,
        idempotency: regenerate,
      });
      assert.equal(typeof moved, "object");
      assert.equal((moved as { replayed?: boolean }).replayed, true);
      assert.equal((moved as { sealedId?: string }).sealedId, "Zmlyc3Q");
      assert.equal((moved as { version?: number }).version, 1);
      const destroy = idem();
      await oldRecord(records, destroy, () => ["ok"]);
      assert.deepEqual(await storage.destroy(id, { idempotency: destroy }), { replayed: true });
      assert.deepEqual((await storage.read(id, LONG))?.data, { n: 5 }, "none of them ran again");
    });

    test("a record written now keeps only its expiry in clear, and a moved one does not open", async () => {
      const id = await seeded();
      const other = await seeded();
      const same = idem("c2VjcmV0");
      const options = { ...LONG, limits, mode: "existing" as const, idempotency: same };
      const inc = { ops: [{ type: "increment" as const, key: "secret-key", delta: 1 }] };
      await storage.apply(id, inc, options);
      const stored = await admin.hget(storage.keys.requests(id), same.key);
      const parsed = JSON.parse(stored as string) as Record<string, unknown>;
      assert.deepEqual(Object.keys(parsed).sort(), ["e", "x"]);
      assert.ok(typeof parsed.e === "number" && parsed.e > Date.now());
      assert.doesNotMatch(stored as string, /secret|c2VjcmV0/);
      // The same record under another session's records does not open there.
      await admin.hset(storage.keys.requests(other), same.key, stored as string);
      await assert.rejects(storage.apply(other, inc, options), { code: "internal" });
    });
  });
}
