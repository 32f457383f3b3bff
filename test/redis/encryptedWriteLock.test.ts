/**
 * The encrypted Redis storages' write lock: a writer whose commits keep losing to another
 * instance (which writes between its load and its commit, every round) takes the session's
 * lock after a few lost rounds; the other instance's commits are then held off until the
 * first writer's commit goes through, which frees the lock.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import type { Loaded, LoadOptions } from "../../src/core/engine/DocumentStore.js";
import { SessionEngine } from "../../src/core/engine/SessionEngine.js";
import { resolveLimits } from "../../src/core/Limits.js";
import { newSessionId } from "../../src/core/session/ids.js";
import {
  EncryptedHashStore,
  EncryptedRedisHashStorage,
} from "../../src/redis/storage/EncryptedRedisHashStorage.js";
import {
  EncryptedKvStore,
  EncryptedRedisStorage,
} from "../../src/redis/storage/EncryptedRedisStorage.js";
import type { Revision } from "../../src/redis/storage/EncryptedRedisStore.js";
import { startRedis } from "../support/redisServers.js";
import { uniquePrefix } from "../support/redisStorages.js";

const redis = await startRedis();
after(() => redis.stop());

const LONG = { ttlMs: 60_000 };
const limits = resolveLimits();
const inc = { ops: [{ type: "increment" as const, key: "n", delta: 1 }] };

/** Runs `hook.every` after each load of `store`, before the round's commit. */
function hooked(store: EncryptedKvStore | EncryptedHashStore) {
  const hook: { every?: (() => Promise<unknown>) | undefined } = {};
  const load = store.load.bind(store);
  store.load = async (id: string, options: LoadOptions): Promise<Loaded<Revision>> => {
    const loaded = await load(id, options);
    await hook.every?.();
    return loaded;
  };
  return hook;
}

const KINDS = [
  ["redis", EncryptedKvStore, EncryptedRedisStorage],
  ["redis-hash", EncryptedHashStore, EncryptedRedisHashStorage],
] as const;

for (const [kind, Store, Public] of KINDS) {
  describe(`encrypted ${kind}: the write lock`, () => {
    const prefix = uniquePrefix();
    const keys = [randomBytes(32)];
    const settings = (timeoutMs: number) => ({
      prefix,
      encryptionKeys: keys,
      ownsClient: true,
      timeoutMs,
    });
    const store = new Store(new Redis(redis.url), settings(2000));
    const hook = hooked(store);
    const a = new SessionEngine(store);
    // The busier instance: a short bound, so that its write held off by the lock gives up.
    const b = new Public(new Redis(redis.url), settings(300));
    const admin = new Redis(redis.url);
    after(async () => {
      admin.disconnect();
      await Promise.all([a.close(), b.close()]);
    });

    test("a writer that keeps losing takes the lock, wins, and frees it", async () => {
      const id = newSessionId();
      await b.apply(id, inc, { ...LONG, limits, mode: "create" });
      const outcomes: string[] = [];
      hook.every = async () => {
        try {
          await b.apply(id, inc, { ...LONG, limits, mode: "existing" });
          outcomes.push("b wrote");
        } catch (err) {
          outcomes.push(`b: ${(err as { reason?: string }).reason}`);
        }
      };
      const result = await a.apply(id, inc, { ...LONG, limits, mode: "existing" });
      hook.every = undefined;
      assert.deepEqual(outcomes, ["b wrote", "b wrote", "b wrote", "b: WRITE_CONFLICT"]);
      assert.deepEqual(result?.incremented, { n: 5 }, "1 + 3 of b's, then a's");
      assert.deepEqual((await b.read(id, LONG))?.data, { n: 5 });
      assert.equal(await admin.exists(`${b.keyOf(id)}:lock`), 0, "the commit freed the lock");
      await b.apply(id, inc, { ...LONG, limits, mode: "existing" });
      assert.deepEqual((await b.read(id, LONG))?.data, { n: 6 }, "others write again");
    });
  });
}
