/**
 * request_id over a real gRPC server and the Node SDK: a write whose reply is lost for
 * real (the SDK call's deadline passes while the storage holds the reply, or while a
 * SIGSTOPped redis-server holds the command) and is then retried with the same id counts
 * once; the same id with a different request is ALREADY_EXISTS; the SDK retries
 * UNAVAILABLE by itself with one id.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { type ServiceError, status } from "@grpc/grpc-js";
import { SessionClient } from "../../src/client/SessionClient.js";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newRequestId } from "../../src/core/session/requestId.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import { startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, uniquePrefix } from "../support/redisStorages.js";
import { InstrumentedStorage } from "../support/serviceInstrumentedStorage.js";

function grpcCode(expected: status): (err: unknown) => boolean {
  return (err) => {
    assert.equal((err as ServiceError).code, expected, String(err));
    return true;
  };
}

async function serve(storage: Storage): Promise<{ server: RunningServer; client: SessionClient }> {
  const server = await startServer({ port: 0, storage: "memory" }, { storage });
  return { server, client: new SessionClient(server.address, { deadlineMs: 3000 }) };
}

// The encrypted Redis storages decide in Node and commit by compare-and-set: their records
// must hold through the same service paths (redis-hash here; both layouts share that code,
// and test/encryptedRequestId.test.ts covers each). Its redis-server is never paused.
const shared = await startRedis();
after(() => shared.stop());

const storages: [string, () => Storage][] = [
  ["memory", () => new MemoryStorage()],
  [
    "file",
    () =>
      new FileStorage({ dir: mkdtempSync(join(tmpdir(), "sessiond-rid-")), logger: silentLogger }),
  ],
  [
    "redis-hash, encrypted",
    () =>
      createRedisStorage(
        "redis-hash",
        { url: shared.url, prefix: uniquePrefix(), encryptionKeys: [randomBytes(32)] },
        silentLogger,
      ),
  ],
];

for (const [name, create] of storages) {
  describe(`request_id through the service (${name})`, { concurrency: true }, () => {
    test("a reply lost to the deadline, retried with the same id, counts once", async () => {
      const storage = new InstrumentedStorage(create());
      const { server, client } = await serve(storage);
      try {
        const handle = client.session();
        await handle.set("seed", true);
        const rid = newRequestId();
        // The write is applied, then its reply held past the call's deadline.
        storage.holdReplyMs = 600;
        await assert.rejects(
          handle.increment("n", 1, { requestId: rid, deadlineMs: 150 }),
          grpcCode(status.DEADLINE_EXCEEDED),
        );
        storage.holdReplyMs = 0;
        const retry = await handle.increment("n", 1, { requestId: rid });
        assert.equal(retry.value, 1);
        assert.equal(retry.version, 2, "the first attempt's version, not a third write");
        assert.deepEqual(await handle.getData(), { seed: true, n: 1 });
        // The same id for another request is refused, and applies nothing.
        await assert.rejects(
          handle.increment("n", 5, { requestId: rid }),
          grpcCode(status.ALREADY_EXISTS),
        );
        await assert.rejects(
          handle.set("n", 9, { requestId: rid }),
          grpcCode(status.ALREADY_EXISTS),
        );
        assert.deepEqual(await handle.getData(), { seed: true, n: 1 });
        // A malformed id is the caller's mistake.
        await assert.rejects(
          handle.increment("n", 1, { requestId: "short" }),
          grpcCode(status.INVALID_ARGUMENT),
        );
      } finally {
        client.close();
        await server.shutdown();
        await storage.close();
      }
    });

    test("a lost create is retried into the same new session id", async () => {
      const storage = new InstrumentedStorage(create());
      const { server, client } = await serve(storage);
      try {
        const rid = newRequestId();
        storage.holdReplyMs = 600;
        const lost = client.session();
        await assert.rejects(
          lost.increment("visits", 1, { requestId: rid, deadlineMs: 150 }),
          grpcCode(status.DEADLINE_EXCEEDED),
        );
        assert.equal(lost.id, undefined, "the caller never learned the id");
        storage.holdReplyMs = 0;
        const retried = await lost.increment("visits", 1, { requestId: rid });
        assert.equal(retried.value, 1);
        assert.equal(retried.version, 1);
        assert.equal(lost.id, retried.sessionId);
        assert.deepEqual(await client.session(retried.sessionId).getData(), { visits: 1 });
      } finally {
        client.close();
        await server.shutdown();
        await storage.close();
      }
    });

    test("the SDK retries UNAVAILABLE within the deadline, with one request id", async () => {
      const storage = new InstrumentedStorage(create());
      const { server, client } = await serve(storage);
      try {
        const handle = client.session();
        await handle.set("seed", true);
        storage.resetCounts();
        // Fails twice before it reaches the storage, then works.
        let failures = 2;
        const inner = storage.inner;
        const seen: (string | undefined)[] = [];
        storage.failure = undefined;
        const original = inner.apply.bind(inner);
        inner.apply = async (id, delta, options) => {
          seen.push(options.idempotency?.key);
          if (failures-- > 0) throw new SessionError("unavailable", "storage down (test)");
          return original(id, delta, options);
        };
        const result = await handle.increment("n");
        assert.equal(result.value, 1);
        assert.equal(seen.length, 3, "two failed attempts and one that worked");
        assert.equal(new Set(seen).size, 1, "every attempt carried the same request id");
        assert.ok(seen[0]);
        // A refusal is not retried.
        await assert.rejects(
          handle.set("seed", 1, { expectedVersion: 99 }),
          grpcCode(status.ABORTED),
        );
        assert.equal(seen.length, 4);
      } finally {
        client.close();
        await server.shutdown();
        await storage.close();
      }
    });
  });
}

describe("request_id through the service (redis, SIGSTOP)", () => {
  test("an Increment held by a stopped Redis, retried after SIGCONT, counts once", async () => {
    const redis = await startRedis();
    after(() => redis.stop());
    for (const kind of ["redis", "redis-hash"] as const) {
      const storage = createTestRedisStorage(kind, { url: redis.url });
      const { server, client } = await serve(storage);
      try {
        const handle = client.session();
        await handle.set("seed", true);
        const rid = newRequestId();
        redis.pause();
        try {
          // The command reaches the stopped server's socket; the reply cannot come.
          await assert.rejects(
            handle.increment("n", 1, { requestId: rid, deadlineMs: 200 }),
            grpcCode(status.DEADLINE_EXCEEDED),
          );
        } finally {
          redis.resume();
        }
        // Redis runs what was queued: the first attempt is applied after its call ended.
        const id = handle.id as string;
        for (let i = 0; i < 100; i++) {
          const data = await client.session(id).getData();
          if (data.n === 1) break;
          await new Promise((r) => setTimeout(r, 20));
        }
        const retry = await handle.increment("n", 1, { requestId: rid });
        assert.equal(retry.value, 1, `${kind}: the retry is answered from the record`);
        assert.deepEqual(await handle.getData(), { seed: true, n: 1 }, kind);
        await assert.rejects(
          handle.increment("n", 2, { requestId: rid }),
          grpcCode(status.ALREADY_EXISTS),
        );
      } finally {
        client.close();
        await server.shutdown();
        await storage.close();
      }
    }
  });
});
