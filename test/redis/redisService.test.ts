/**
 * sessiond over Redis at the service level, over real gRPC channels:
 * - the SessionService end-to-end suite with `redis` and `redis-hash`;
 * - three sessiond servers sharing one Redis: read-your-writes across instances,
 *   3 × 50 concurrent clients writing one session, 150 concurrent Increments;
 * - Redis SIGKILLed under 500 in-flight calls against a sessiond child process: every
 *   call ends OK or UNAVAILABLE within the bound, the process stays up, health flips to
 *   NOT_SERVING and back, and with AOF (appendfsync always) every acknowledged write is
 *   there after Redis restarts.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { credentials, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, REDIS_KINDS, uniquePrefix } from "../support/redisStorages.js";
import { sessionClient, unary, waitForHealth } from "../support/serverClients.js";
import { ServerProcess } from "../support/serverProcess.js";
import { describeServiceSuite } from "../support/serviceSuite.js";

const SERVICE = "sessiond.v1.SessionService";
const REDIS_TIMEOUT_MS = 1000;

let redis: RedisProcess;
before(async () => {
  redis = await startRedis();
});
after(() => redis?.stop());

for (const kind of REDIS_KINDS) {
  describeServiceSuite(kind, () => createTestRedisStorage(kind, { url: redis.url }));
}

/** A client on its own HTTP/2 connection, as a separate caller would have. */
function ownClient(address: string): SessionServiceClient {
  return new SessionServiceClient(address, credentials.createInsecure(), {
    "grpc.use_local_subchannel_pool": 1,
  });
}

for (const kind of REDIS_KINDS) {
  describe(`three sessiond servers on one Redis (${kind})`, () => {
    let servers: RunningServer[] = [];
    let clients: SessionServiceClient[] = [];

    before(async () => {
      const prefix = uniquePrefix();
      servers = await Promise.all(
        [0, 1, 2].map(() =>
          startServer({ port: 0, storage: kind, redisUrl: redis.url, redisPrefix: prefix }),
        ),
      );
      clients = servers.map((s) => sessionClient(s.address));
    });

    after(async () => {
      for (const c of clients) c.close();
      await Promise.all(servers.map((s) => s.shutdown()));
    });

    test("a write through A is read through B and C at once", async () => {
      const [a, b, c] = clients as [
        SessionServiceClient,
        SessionServiceClient,
        SessionServiceClient,
      ];
      const value = { n: 2 ** 53 - 1, x: 0.1, s: "é🙂" };
      const { response } = await unary(a, a.set, { key: "k", value });
      const id = response.sessionId;
      assert.deepEqual((await unary(b, b.get, { key: "k" }, id)).response, { value, found: true });
      assert.deepEqual((await unary(c, c.get, { key: "k" }, id)).response, { value, found: true });
      await unary(b, b.set, { key: "k2", value: 2 }, id);
      const data = (await unary(a, a.getData, {}, id)).response.data;
      assert.deepEqual(data, { k: value, k2: 2 });
    });

    test("3 × 50 concurrent clients writing different keys of one session: every key present", async () => {
      const first = clients[0] as SessionServiceClient;
      const id = (await unary(first, first.set, { key: "origin", value: true })).response.sessionId;
      const callers = Array.from({ length: 150 }, (_, i) =>
        ownClient((servers[i % 3] as RunningServer).address),
      );
      try {
        const results = await Promise.all(
          callers.map((c, i) => unary(c, c.set, { key: `c${i}`, value: i }, id)),
        );
        for (const r of results) assert.equal(r.response.sessionId, id);
        const versions = new Set(results.map((r) => r.response.version));
        assert.equal(versions.size, 150, "each write got its own version");
        const data = (await unary(first, first.getData, {}, id)).response.data as Record<
          string,
          unknown
        >;
        assert.equal(Object.keys(data).length, 151);
        for (let i = 0; i < 150; i++) assert.equal(data[`c${i}`], i, `key c${i}`);
      } finally {
        for (const c of callers) c.close();
      }
    });

    test("150 concurrent Increments of one key through A, B and C: exact total", async () => {
      const first = clients[0] as SessionServiceClient;
      const id = (await unary(first, first.set, { key: "other", value: 0 })).response.sessionId;
      const results = await Promise.all(
        Array.from({ length: 150 }, (_, i) => {
          const c = clients[i % 3] as SessionServiceClient;
          return unary(c, c.increment, { key: "n", delta: 1 }, id);
        }),
      );
      const seen = results.map((r) => r.response.value).sort((x, y) => x - y);
      assert.deepEqual(
        seen,
        Array.from({ length: 150 }, (_, i) => i + 1),
        "every increment saw a distinct value",
      );
      const got = await unary(first, first.get, { key: "n" }, id);
      assert.deepEqual(got.response, { value: 150, found: true });
    });
  });
}

interface Outcome {
  session: number;
  key: string;
  code: number;
  ms: number;
}

function setCall(
  client: SessionServiceClient,
  sessionId: string,
  key: string,
  value: number,
): Promise<number> {
  const md = new Metadata();
  md.set("x-session-id", sessionId);
  return new Promise((resolve) => {
    client.set({ key, value }, md, { deadline: Date.now() + 15_000 }, (err: ServiceError | null) =>
      resolve(err ? err.code : status.OK),
    );
  });
}

for (const kind of REDIS_KINDS) {
  test(`${kind}: Redis killed under 500 in-flight calls; OK or UNAVAILABLE within the bound, health flips, acknowledged writes survive`, async () => {
    const aofRedis = await startRedis({ aof: true });
    const server = await ServerProcess.start([], {
      SESSIOND_STORAGE: kind,
      SESSIOND_REDIS_URL: aofRedis.url,
      SESSIOND_REDIS_PREFIX: uniquePrefix(),
      SESSIOND_REDIS_TIMEOUT_MS: String(REDIS_TIMEOUT_MS),
      SESSIOND_HEALTH_CHECK_INTERVAL: "200ms",
    });
    const clients = Array.from({ length: 4 }, () => ownClient(server.address));
    try {
      const c0 = clients[0] as SessionServiceClient;
      const ids: string[] = [];
      for (let s = 0; s < 10; s++) {
        ids.push((await unary(c0, c0.set, { key: "seed", value: s })).response.sessionId);
      }
      await waitForHealth(server.address, SERVICE, "SERVING");

      // 500 workers keep one Set each in flight; Redis is SIGKILLed once 1 000 were
      // acknowledged. A worker stops after its first non-OK answer, as a client backing off.
      const outcomes: Outcome[] = [];
      let acked = 0;
      let killed: Promise<void> | undefined;
      const worker = async (w: number) => {
        for (let j = 0; ; j++) {
          const session = (w + j) % ids.length;
          const key = `w${w}-${j}`;
          const start = performance.now();
          const code = await setCall(
            clients[w % clients.length] as SessionServiceClient,
            ids[session] as string,
            key,
            j,
          );
          outcomes.push({ session, key, code, ms: performance.now() - start });
          if (code !== status.OK) return;
          if (++acked === 1000) killed = aofRedis.kill();
        }
      };
      await Promise.all(Array.from({ length: 500 }, (_, w) => worker(w)));
      await killed;

      const codes = new Set(outcomes.map((o) => o.code));
      assert.deepEqual(
        [...codes].filter((c) => c !== status.OK && c !== status.UNAVAILABLE),
        [],
        "only OK and UNAVAILABLE",
      );
      const failed = outcomes.filter((o) => o.code === status.UNAVAILABLE);
      assert.equal(failed.length, 500, "every worker ended on UNAVAILABLE once Redis was gone");
      const slowest = Math.max(...outcomes.map((o) => o.ms));
      const slowestFailure = Math.max(...failed.map((o) => o.ms));
      // The bound is REDIS_TIMEOUT_MS; the slack covers gRPC and 500 calls on 2 shared cores.
      assert.ok(slowest < REDIS_TIMEOUT_MS + 3000, `slowest call took ${slowest.toFixed(0)} ms`);

      await waitForHealth(server.address, SERVICE, "NOT_SERVING");
      await waitForHealth(server.address, "", "NOT_SERVING");
      assert.equal(server.child.exitCode, null, "sessiond is still running");

      await aofRedis.restart();
      await waitForHealth(server.address, SERVICE, "SERVING");
      await waitForHealth(server.address, "", "SERVING");

      const byId = new Map<number, Record<string, unknown>>();
      for (const [s, id] of ids.entries()) {
        byId.set(s, (await unary(c0, c0.getData, {}, id)).response.data as Record<string, unknown>);
      }
      const acknowledged = outcomes.filter((o) => o.code === status.OK);
      for (const o of acknowledged) {
        assert.ok(byId.get(o.session)?.[o.key] !== undefined, `acknowledged write ${o.key} lost`);
      }
      const afterRestart = await unary(c0, c0.set, { key: "after", value: 1 }, ids[0]);
      assert.equal(afterRestart.response.sessionId, ids[0]);

      const logs = server.logs();
      assert.ok(!server.lines.some((l) => l.includes("Unhandled error event")));
      assert.ok(logs.some((l) => l.msg === "redis connection lost"));
      assert.ok(logs.some((l) => l.msg === "redis connected" && l.reconnected === true));
      console.log(
        `# ${kind}: ${acknowledged.length} OK, ${failed.length} UNAVAILABLE; slowest call ${slowest.toFixed(0)} ms, ` +
          `slowest UNAVAILABLE ${slowestFailure.toFixed(0)} ms (bound ${REDIS_TIMEOUT_MS} ms)`,
      );
    } finally {
      for (const c of clients) c.close();
      await server.stop();
      await aofRedis.stop();
    }
  });
}
