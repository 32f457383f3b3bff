/**
 * Optional capabilities reach the server through every decorator: a capability the
 * decorators have never heard of, the storage's own (counts, budget), and the one
 * HashedIdStorage adds (the request-id secret Manager keys request records with).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { defaultLimits } from "../../src/core/Limits.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { Manager } from "../../src/core/session/Manager.js";
import {
  BUDGETED,
  type CapabilityKey,
  CapabilitySet,
  capabilityKey,
  capabilityOf,
  EXPIRY_COUNTED,
  REQUEST_ID_SECRET,
  SHARDED,
} from "../../src/core/storage/capabilities.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import { MeteredStorage } from "../../src/server/metrics/MeteredStorage.js";
import { ServerMetrics } from "../../src/server/metrics/ServerMetrics.js";

/** A capability no decorator was written for (as a per-user index or a change feed will be). */
interface Greeter {
  greet(name: string): string;
}
const GREETER = capabilityKey<Greeter>("test.greeter");

/** A memory storage that also declares GREETER. */
class GreetingStorage extends MemoryStorage {
  readonly #own = new CapabilitySet().with(GREETER, { greet: (name) => `hello ${name}` });

  override capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#own.get(key) ?? super.capability(key);
  }
}

/** As the server stacks them: metering outside, id hashing inside. */
function wrapped(inner: Storage): Storage {
  const metrics = new ServerMetrics("127.0.0.1", 0);
  return new MeteredStorage(new HashedIdStorage(inner, randomBytes(32)), "custom", metrics);
}

describe("storage capabilities", () => {
  test("a capability declared on the inner storage passes through HashedIdStorage and MeteredStorage", async () => {
    const inner = new GreetingStorage();
    const storage = wrapped(inner);
    try {
      assert.equal(capabilityOf(storage, GREETER)?.greet("world"), "hello world");
      // The inner storage's own capabilities, live (read at call time, not copied).
      const budget = capabilityOf(storage, BUDGETED);
      assert.equal(budget?.medium, "memory");
      assert.equal(budget?.usage()?.sessions, 0);
      await storage.apply(
        "a".repeat(32),
        { ops: [{ type: "set", key: "k", value: 1 }] },
        { mode: "create", ttlMs: 60_000, limits: defaultLimits },
      );
      assert.equal(budget?.usage()?.sessions, 1);
      assert.equal(capabilityOf(storage, EXPIRY_COUNTED)?.expired(), 0);
      // Added by HashedIdStorage, seen through MeteredStorage.
      assert.ok(capabilityOf(storage, REQUEST_ID_SECRET));
      // Nobody declares these.
      assert.equal(capabilityOf(storage, SHARDED), undefined);
      assert.equal(capabilityOf(storage, capabilityKey<Greeter>("test.greeter")), undefined);
      assert.equal(capabilityOf(new MemoryStorage(), GREETER), undefined);
    } finally {
      await storage.close();
    }
  });

  test("a storage without capability() has none", () => {
    const bare: Storage = {
      read: async () => undefined,
      readKey: async () => undefined,
      apply: async () => undefined,
      regenerate: async () => "missing",
      touch: async () => undefined,
      destroy: async () => {},
      ping: async () => {},
      close: async () => {},
    };
    assert.equal(capabilityOf(bare, BUDGETED), undefined);
    assert.equal(capabilityOf(new HashedIdStorage(bare, randomBytes(32)), BUDGETED), undefined);
  });

  test("Managers over metered, id-hashed storages sharing one key share request records", async () => {
    // Two instances on one store (as on one Redis): a retry that reaches the other one is
    // answered from the first attempt's record, because both Managers find the secret
    // derived from the id-hash key through the metering wrapper.
    const shared = new MemoryStorage();
    const key = randomBytes(32);
    const metrics = new ServerMetrics("127.0.0.1", 0);
    const instances = [0, 1].map(
      () =>
        new Manager({
          storage: new MeteredStorage(new HashedIdStorage(shared, key), "memory", metrics),
        }),
    );
    try {
      const ids: (string | undefined)[] = [];
      for (const manager of instances) {
        const session = manager.session();
        session.setRequestId("checkout-0000000000000001", { scope: "Increment" });
        session.increment("n", 1);
        await session.commit();
        ids.push(session.id);
      }
      assert.ok(ids[0]);
      assert.equal(ids[1], ids[0], "the retry was replayed, not applied again");
      assert.equal(capabilityOf(shared, BUDGETED)?.usage()?.sessions, 1);
    } finally {
      await shared.close();
    }
  });
});
