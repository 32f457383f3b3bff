/**
 * Issue 8, defects 1-3, against `npm start`'s server process on every storage:
 * - one request with tens of thousands of keys (SetMap, Remove) is refused with
 *   RESOURCE_EXHAUSTED naming maxOps before any storage call, and the process lives on;
 * - Regenerate racing Sets on the old id loses no Set answered OK under the old id, and of
 *   concurrent Regenerates exactly one wins;
 * - the absolute lifetime holds against a client that regenerates and touches all along.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { credentials, type ServiceError, status } from "@grpc/grpc-js";
import { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { uniquePrefix } from "../support/redisStorages.js";
import { unary } from "../support/serverClients.js";
import { ServerProcess } from "../support/serverProcess.js";

const STORAGES = ["memory", "file", "redis", "redis-hash"] as const;
type Kind = (typeof STORAGES)[number];

let redis: RedisProcess;
let dir: string;
before(async () => {
  redis = await startRedis();
  dir = await mkdtemp(join(tmpdir(), "sessiond-hostile-"));
});
after(async () => {
  await redis?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function storageEnv(kind: Kind): Record<string, string> {
  if (kind === "memory") return { SESSIOND_STORAGE: "memory" };
  if (kind === "file")
    return { SESSIOND_STORAGE: "file", SESSIOND_FILE_DIR: join(dir, uniquePrefix()) };
  return {
    SESSIOND_STORAGE: kind,
    SESSIOND_REDIS_URL: redis.url,
    SESSIOND_REDIS_PREFIX: uniquePrefix(),
  };
}

function client(address: string): SessionServiceClient {
  return new SessionServiceClient(address, credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
    "grpc.max_send_message_length": 16 * 1024 * 1024,
  });
}

async function failure(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as ServiceError;
  }
  assert.fail("expected the call to fail");
}

function alive(server: ServerProcess): void {
  assert.equal(server.child.exitCode, null, `sessiond exited:\n${server.lines.join("\n")}`);
  assert.equal(server.child.signalCode, null, `sessiond was killed:\n${server.lines.join("\n")}`);
}

for (const kind of STORAGES) {
  describe(`hostile and unlucky callers (${kind})`, () => {
    let server: ServerProcess;
    let c: SessionServiceClient;
    before(async () => {
      server = await ServerProcess.start([], storageEnv(kind));
      c = client(server.address);
    });
    after(async () => {
      c?.close();
      if (server) {
        alive(server);
        await server.stop();
      }
    });

    test("SetMap and Remove with tens of thousands of keys: RESOURCE_EXHAUSTED naming maxOps, nothing changed, the process lives", async () => {
      const control = (await unary(c, c.set, { key: "keep", value: "me" })).response;
      const id = control.sessionId;
      for (const count of [1025, 30_000, 130_000]) {
        const data: Record<string, number> = {};
        for (let i = 0; i < count; i++) data[`k${i}`] = i;
        const err = await failure(unary(c, c.setMap, { data }, id));
        assert.equal(err.code, status.RESOURCE_EXHAUSTED, `SetMap of ${count}: ${err.details}`);
        assert.match(
          err.details,
          /at most 1024 operations, .*set by SESSIOND_MAX_OPS \(--max-ops\)$/,
        );
        const keys = Array.from({ length: count }, (_, i) => `k${i}`);
        const removed = await failure(unary(c, c.remove, { keys }, id));
        assert.equal(
          removed.code,
          status.RESOURCE_EXHAUSTED,
          `Remove of ${count}: ${removed.details}`,
        );
        assert.match(
          removed.details,
          /at most 1024 operations, .*set by SESSIOND_MAX_OPS \(--max-ops\)$/,
        );
        alive(server);
      }
      // A fresh caller (no id) too: refused before a session is created.
      const data: Record<string, number> = {};
      for (let i = 0; i < 40_000; i++) data[`k${i}`] = i;
      const err = await failure(unary(c, c.setMap, { data }));
      assert.equal(err.code, status.RESOURCE_EXHAUSTED);
      const after = (await unary(c, c.describe, {}, id)).response;
      assert.equal(Number(after.version), Number(control.version), "nothing was applied");
      assert.deepEqual((await unary(c, c.getData, {}, id)).response.data, { keep: "me" });
      alive(server);
    });

    test("Regenerate racing Sets on the old id: every Set answered OK under the old id is in the new session", async () => {
      const writers = Array.from({ length: 6 }, () => client(server.address));
      try {
        for (let trial = 0; trial < 10; trial++) {
          const oldId = (await unary(c, c.set, { key: "seed", value: trial })).response.sessionId;
          const sets = Array.from({ length: 30 }, async (_, i) => {
            const w = writers[i % writers.length] as SessionServiceClient;
            try {
              return (await unary(w, w.set, { key: `w${i}`, value: i }, oldId)).response.sessionId;
            } catch (err) {
              return (err as ServiceError).code;
            }
          });
          const regenerated = unary(c, c.regenerate, { keepOld: false }, oldId);
          const [answers, { response }] = await Promise.all([Promise.all(sets), regenerated]);
          const moved = (await unary(c, c.getData, {}, response.sessionId)).response.data ?? {};
          for (const [i, answer] of answers.entries()) {
            assert.notEqual(typeof answer, "number", `trial ${trial}: Set ${i} failed (${answer})`);
            if (answer === oldId) {
              assert.equal(moved[`w${i}`], i, `trial ${trial}: Set ${i} answered OK, then lost`);
            } else {
              // Arrived after the move: a fresh session holds it, under the id it was told.
              assert.notEqual(answer, response.sessionId);
              const own = (await unary(c, c.get, { key: `w${i}` }, answer as string)).response;
              assert.equal(own.value, i);
            }
          }
          const old = await unary(c, c.getData, {}, oldId);
          assert.deepEqual(old.response.data ?? {}, {}, "the old id reads empty");
        }
      } finally {
        for (const w of writers) w.close();
      }
    });

    test("concurrent Regenerates of one session: exactly one wins, the rest are NOT_FOUND", async () => {
      const oldId = (await unary(c, c.set, { key: "k", value: "v" })).response.sessionId;
      const callers = Array.from({ length: 4 }, () => client(server.address));
      try {
        const outcomes = await Promise.allSettled(
          callers.map((w) => unary(w, w.regenerate, { keepOld: false }, oldId)),
        );
        const won = outcomes.filter((o) => o.status === "fulfilled");
        assert.equal(won.length, 1, "exactly one Regenerate succeeds");
        for (const o of outcomes) {
          if (o.status === "rejected")
            assert.equal((o.reason as ServiceError).code, status.NOT_FOUND);
        }
      } finally {
        for (const w of callers) w.close();
      }
    });
  });
}

test("the absolute lifetime holds against Regenerate and Touch every 200 ms, and Describe reports it", async () => {
  const server = await ServerProcess.start(["--max-lifetime", "1s", "--storage", "memory"]);
  const c = client(server.address);
  try {
    let id = (await unary(c, c.set, { key: "a", value: 1 })).response.sessionId;
    const first = (await unary(c, c.describe, {}, id)).response;
    const created = first.createTime?.getTime() ?? 0;
    assert.equal(first.lifetimeEndTime?.getTime(), created + 1000);
    let keepOld = false;
    while (Date.now() < created + 800) {
      try {
        id = (await unary(c, c.regenerate, { keepOld }, id)).response.sessionId;
        keepOld = !keepOld;
        await unary(c, c.touch, {}, id);
        const now = (await unary(c, c.describe, {}, id)).response;
        assert.equal(
          now.createTime?.getTime(),
          created,
          "Regenerate keeps the first creation time",
        );
        assert.equal(now.lifetimeEndTime?.getTime(), created + 1000);
      } catch (err) {
        // A slow machine can reach the deadline inside the loop: NOT_FOUND is right then.
        assert.equal((err as ServiceError).code, status.NOT_FOUND, String(err));
        assert.ok(Date.now() >= created + 1000, "NOT_FOUND before the lifetime ended");
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, created + 1000 - Date.now()) + 100));
    assert.equal((await unary(c, c.get, { key: "a" }, id)).response.found, false);
    const err = await failure(unary(c, c.regenerate, { keepOld: false }, id));
    assert.equal(err.code, status.NOT_FOUND);
  } finally {
    c.close();
    await server.stop();
  }
});
