/**
 * Request ids on the encrypted Redis storages, where a write is a read in Node and a
 * compare-and-set script: a first attempt that commits between a retry's read and its
 * commit (on another instance) must be replayed by that commit, and one that commits
 * between a retry's read and an outcome decided in Node (a refusal) must be replayed too.
 * The interleaving is real: a second storage instance on the same redis-server writes
 * while the first one sits between its read and its script.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import type { Loaded, LoadOptions } from "../../src/core/engine/DocumentStore.js";
import { SessionEngine } from "../../src/core/engine/SessionEngine.js";
import { resolveLimits } from "../../src/core/Limits.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { idInFamily } from "../../src/core/storage/idFamily.js";
import type { ApplyOptions, Idempotency, Op } from "../../src/core/storage/Storage.js";
import {
  EncryptedHashStore,
  EncryptedRedisHashStorage,
} from "../../src/redis/storage/EncryptedRedisHashStorage.js";
import {
  EncryptedKvStore,
  EncryptedRedisStorage,
} from "../../src/redis/storage/EncryptedRedisStorage.js";
import type {
  EncryptedRedisStorageOptions,
  Revision,
} from "../../src/redis/storage/EncryptedRedisStore.js";
import { startRedis } from "../support/redisServers.js";
import { uniquePrefix } from "../support/redisStorages.js";

const redis = await startRedis();
after(() => redis.stop());

const LONG = { ttlMs: 60_000 };
const limits = resolveLimits();

/** Runs `next` once, right after the storage's next load for a write, before its commit. */
class BetweenReadAndCommit {
  next: (() => Promise<unknown>) | undefined;
  async after(loaded: Promise<Loaded<Revision>>): Promise<Loaded<Revision>> {
    const value = await loaded;
    const next = this.next;
    this.next = undefined;
    await next?.();
    return value;
  }
}

class HookedKv extends EncryptedKvStore {
  readonly between = new BetweenReadAndCommit();
  override load(id: string, options: LoadOptions): Promise<Loaded<Revision>> {
    return this.between.after(super.load(id, options));
  }
}

class HookedHash extends EncryptedHashStore {
  readonly between = new BetweenReadAndCommit();
  override load(id: string, options: LoadOptions): Promise<Loaded<Revision>> {
    return this.between.after(super.load(id, options));
  }
}

const KINDS = [
  ["redis", HookedKv, EncryptedRedisStorage],
  ["redis-hash", HookedHash, EncryptedRedisHashStorage],
] as const;

function idem(sealedId?: string): Idempotency {
  const hex = () => createHash("sha256").update(randomBytes(16)).digest("hex");
  return { key: hex(), fingerprint: hex(), windowMs: 60_000, ...(sealedId ? { sealedId } : {}) };
}

const inc = (key: string): Op => ({ type: "increment", key, delta: 1 });

for (const [kind, Hooked, Plain] of KINDS) {
  describe(`request ids on encrypted ${kind}: a first attempt committing mid-write`, () => {
    // Two instances of one deployment: same Redis, prefix and keys.
    const prefix = uniquePrefix();
    const keys = [randomBytes(32)];
    const settings = (): EncryptedRedisStorageOptions => ({
      prefix,
      encryptionKeys: keys,
      ownsClient: true,
    });
    // The public class is SessionEngine over the layout's store: the same, with a hooked store.
    const hooked = new Hooked(new Redis(redis.url), settings());
    const a = Object.assign(new SessionEngine(hooked), { between: hooked.between });
    const b: EncryptedRedisStorage | EncryptedRedisHashStorage = new Plain(
      new Redis(redis.url),
      settings(),
    );
    after(() => Promise.all([a.close(), b.close()]));
    const options = (idempotency: Idempotency, mode: ApplyOptions["mode"] = "existing") => ({
      ...LONG,
      limits,
      mode,
      idempotency,
    });

    test("an apply whose retry committed after its read is replayed by its commit", async () => {
      const id = newSessionId();
      await b.apply(id, { ops: [inc("n")] }, { ...LONG, limits, mode: "create" });
      const same = idem();
      let first: Awaited<ReturnType<typeof b.apply>>;
      a.between.next = async () => {
        first = await b.apply(id, { ops: [inc("n")] }, options(same));
      };
      const retry = await a.apply(id, { ops: [inc("n")] }, options(same));
      assert.equal(first?.replayed, undefined, "the other instance applied it");
      assert.equal(retry?.replayed, true, "the commit found the record: nothing applied");
      assert.equal(retry?.version, first?.version);
      assert.deepEqual(retry?.incremented, { n: 2 });
      assert.deepEqual((await a.read(id, LONG))?.data, { n: 2 }, "counted once");
    });

    test("a create whose retry committed after its read is replayed, under the first id", async () => {
      const firstId = newSessionId();
      const retryId = idInFamily(firstId, newSessionId());
      const same = idem("c2VhbGVk");
      a.between.next = () => b.apply(firstId, { ops: [inc("n")] }, options(same, "create"));
      const retry = await a.apply(retryId, { ops: [inc("n")] }, options(same, "create"));
      assert.equal(retry?.replayed, true);
      assert.equal(retry?.sealedId, "c2VhbGVk", "the first attempt's sealed id");
      assert.equal(await a.read(retryId, LONG), undefined, "the retry created nothing");
      assert.deepEqual((await a.read(firstId, LONG))?.data, { n: 1 });
    });

    test("a regenerate whose retry moved the session after its read is replayed", async () => {
      const oldId = newSessionId();
      await b.apply(oldId, { ops: [inc("n")] }, { ...LONG, limits, mode: "create" });
      const firstNew = idInFamily(oldId, newSessionId());
      const retryNew = idInFamily(oldId, newSessionId());
      const same = idem("Zmlyc3Q");
      const regenerate = { ...LONG, keepOld: false, idempotency: same };
      a.between.next = () => b.regenerate(oldId, firstNew, regenerate);
      const retry = await a.regenerate(oldId, retryNew, regenerate);
      assert.equal(typeof retry, "object");
      assert.equal((retry as { replayed?: boolean }).replayed, true);
      assert.equal((retry as { sealedId?: string }).sealedId, "Zmlyc3Q");
      assert.equal(await a.read(retryNew, LONG), undefined, "no second move");
      assert.deepEqual((await a.read(firstNew, LONG))?.data, { n: 1 });
    });

    test("a refusal decided on a read the first attempt then overtook is not recorded: the commit is replayed", async () => {
      const id = newSessionId();
      const seed = { ...LONG, limits, mode: "create" as const };
      await b.apply(id, { ops: [{ type: "set", key: "n", value: "text" }] }, seed);
      const same = idem();
      // After A read "text" (it refuses to increment), the key is fixed and B's attempt lands.
      a.between.next = async () => {
        await b.apply(id, { ops: [{ type: "set", key: "n", value: 0 }] }, options(idem()));
        await b.apply(id, { ops: [inc("n")] }, options(same));
      };
      const retry = await a.apply(id, { ops: [inc("n")] }, options(same));
      assert.equal(retry?.replayed, true, "the record, not the refusal of a stale read");
      assert.deepEqual(retry?.incremented, { n: 1 });
      assert.deepEqual((await a.read(id, LONG))?.data, { n: 1 });
    });

    test("a refusal is recorded: the retry is refused alike though it would now apply", async () => {
      const id = newSessionId();
      const seed = { ...LONG, limits, mode: "create" as const };
      await b.apply(id, { ops: [{ type: "set", key: "n", value: "text" }] }, seed);
      const same = idem();
      await assert.rejects(a.apply(id, { ops: [inc("n")] }, options(same)), {
        code: "failed_precondition",
      });
      await b.apply(id, { ops: [{ type: "set", key: "n", value: 0 }] }, options(idem()));
      await assert.rejects(b.apply(id, { ops: [inc("n")] }, options(same)), (err: Error) => {
        assert.equal((err as { code?: string }).code, "failed_precondition");
        assert.match(err.message, /cannot increment key "n": it holds a string/);
        return true;
      });
      assert.deepEqual((await a.read(id, LONG))?.data, { n: 0 });
    });

    test("records keep no key name or message in clear, and replay from their seal", async () => {
      const id = newSessionId();
      const seed = { ...LONG, limits, mode: "create" as const };
      await b.apply(id, { ops: [{ type: "set", key: "secret-text", value: "x" }] }, seed);
      const counted = idem();
      const refused = idem();
      const first = await b.apply(id, { ops: [inc("secret-count")] }, options(counted));
      const refuse = () => a.apply(id, { ops: [inc("secret-text")] }, options(refused));
      await assert.rejects(refuse(), /cannot increment key "secret-text"/);
      const admin = new Redis(redis.url);
      try {
        const stored = await admin.hgetall(b.keys.requests(id));
        assert.equal(Object.keys(stored).length, 2, "both outcomes recorded");
        assert.doesNotMatch(JSON.stringify(stored), /secret/);
      } finally {
        admin.disconnect();
      }
      const again = await a.apply(id, { ops: [inc("secret-count")] }, options(counted));
      assert.deepEqual(again?.incremented, first?.incremented);
      assert.equal(again?.replayed, true);
      await assert.rejects(refuse(), /cannot increment key "secret-text"/);
    });
  });
}
