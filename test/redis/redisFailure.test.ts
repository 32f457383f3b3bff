/**
 * What a Redis storage does when Redis goes away: every call ends with `unavailable`
 * within the configured bound (dead server, hung server, server never reachable),
 * ping() rejects while down, nothing crashes, and the storage recovers by itself; with
 * AOF (appendfsync always) every write acknowledged before a SIGKILL is still there.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import type { Redis } from "ioredis";
import { defaultLimits } from "../../src/core/Limits.js";
import { SessionError } from "../../src/core/SessionError.js";
import type { ApplyOptions } from "../../src/core/storage/Storage.js";
import type { RedisBackedStorage } from "../../src/redis/redisBacked.js";
import { freePort, startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, memoryLogger, REDIS_KINDS } from "../support/redisStorages.js";

const TIMEOUT_MS = 400;
/** Generous slack over the bound for a loaded 2-core machine; still far from "forever". */
const SLACK_MS = 1000;
const opts: ApplyOptions = { mode: "upsert", ttlMs: 60_000, limits: defaultLimits };
const id = (i: number) => `s${String(i).padStart(31, "0")}`;

/** Runs `call`, asserts it rejects with `unavailable`, returns how long it took. */
async function unavailableWithin(call: () => Promise<unknown>, what: string): Promise<number> {
  const start = performance.now();
  await assert.rejects(call(), (err: unknown) => {
    assert.ok(err instanceof SessionError, `${what}: ${String(err)}`);
    assert.equal(err.code, "unavailable", `${what}: ${err.message}`);
    assert.match(err.message, /redis/);
    return true;
  });
  const took = performance.now() - start;
  assert.ok(took < TIMEOUT_MS + SLACK_MS, `${what} took ${took.toFixed(0)} ms`);
  return took;
}

async function eventually(what: string, check: () => Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await sleep(50);
  }
  assert.fail(`${what} did not happen within ${ms} ms`);
}

function allCalls(s: RedisBackedStorage, i: number): [string, () => Promise<unknown>][] {
  return [
    ["apply", () => s.apply(id(i), { ops: [{ type: "set", key: "k", value: i }] }, opts)],
    ["read", () => s.read(id(i), opts)],
    ["readKey", () => s.readKey(id(i), "k", opts)],
    ["touch", () => s.touch(id(i), opts)],
    ["destroy", () => s.destroy(id(i))],
    ["ping", () => s.ping()],
  ];
}

for (const kind of REDIS_KINDS) {
  describe(`${kind} when Redis fails`, () => {
    test("killed Redis: every call is unavailable within the bound; restart recovers, acknowledged writes kept", async () => {
      const server = await startRedis({ aof: true });
      const logger = memoryLogger();
      const s = createTestRedisStorage(
        kind,
        { url: server.url, commandTimeoutMs: TIMEOUT_MS },
        { logger },
      );
      try {
        await s.apply(id(0), { ops: [{ type: "set", key: "k", value: "before" }] }, opts);

        // Kill it under load: 20 writers in a loop, Redis SIGKILLed once 100 writes were
        // acknowledged. Every call ends OK or unavailable within the bound; a writer stops
        // at its first unavailable, as a client backing off would.
        type Outcome = { i: number; ok: boolean; ms: number };
        const outcomes: Outcome[] = [];
        let acked = 0;
        let killed: Promise<void> | undefined;
        const writer = async (w: number) => {
          for (let j = 0; j < 100; j++) {
            const i = 1 + w * 100 + j;
            const start = performance.now();
            try {
              await s.apply(id(i), { ops: [{ type: "set", key: "k", value: i }] }, opts);
              outcomes.push({ i, ok: true, ms: performance.now() - start });
              if (++acked === 100) killed = server.kill();
            } catch (err) {
              assert.ok(err instanceof SessionError && err.code === "unavailable", String(err));
              outcomes.push({ i, ok: false, ms: performance.now() - start });
              return;
            }
          }
        };
        await Promise.all(Array.from({ length: 20 }, (_, w) => writer(w)));
        await killed;
        const slowest = Math.max(...outcomes.map((o) => o.ms));
        assert.ok(slowest < TIMEOUT_MS + SLACK_MS, `slowest call ${slowest.toFixed(0)} ms`);
        assert.ok(acked >= 100 && outcomes.some((o) => !o.ok), "the kill happened mid-load");

        const took = await Promise.all(
          allCalls(s, 0).map(([name, call]) => unavailableWithin(call, name)),
        );
        assert.ok(logger.lines.some((l) => l.msg === "redis connection lost"));

        // Down for longer than the bound: calls fail at once instead of waiting it out.
        await sleep(TIMEOUT_MS + 100);
        const fastStart = performance.now();
        await assert.rejects(s.read(id(0), opts), (err: unknown) => {
          assert.ok(err instanceof SessionError && err.code === "unavailable", String(err));
          assert.match(err.message, /no connection for \d+ ms: .*ECONNREFUSED/);
          return true;
        });
        const fastMs = performance.now() - fastStart;

        await server.restart();
        await eventually("recovery", async () => {
          await s.ping();
          return true;
        });
        assert.deepStrictEqual(await s.readKey(id(0), "k", opts), { found: true, value: "before" });
        for (const o of outcomes.filter((x) => x.ok)) {
          assert.deepStrictEqual(
            await s.readKey(id(o.i), "k", opts),
            { found: true, value: o.i },
            `acknowledged write ${o.i} lost`,
          );
        }
        assert.ok(await s.apply(id(0), { ops: [{ type: "set", key: "k", value: "after" }] }, opts));
        assert.ok(
          logger.lines.some((l) => l.msg === "redis connected" && l.fields?.reconnected === true),
        );
        console.log(
          `# ${kind}: ${acked} writes OK before/around the kill, ${outcomes.length - acked} unavailable, slowest ${slowest.toFixed(0)} ms; ` +
            `down calls unavailable after ${took.map((t) => t.toFixed(0)).join("/")} ms (bound ${TIMEOUT_MS}), ` +
            `${fastMs.toFixed(1)} ms once down longer than the bound`,
        );
      } finally {
        await s.close();
        await server.stop();
      }
    });

    test("hung Redis (SIGSTOP): calls are unavailable within the bound, then it recovers", async () => {
      const server = await startRedis();
      const s = createTestRedisStorage(kind, { url: server.url, commandTimeoutMs: TIMEOUT_MS });
      try {
        await s.apply(id(1), { ops: [{ type: "set", key: "k", value: 1 }] }, opts);
        server.pause();
        // destroy is left out: a command that reached the hung server runs when it wakes
        // (unavailable means "not confirmed", not "not applied").
        await Promise.all(
          allCalls(s, 1)
            .filter(([n]) => n !== "destroy")
            .map(([name, call]) => unavailableWithin(call, `hung ${name}`)),
        );
        server.resume();
        await eventually("answers again", async () => {
          await s.ping();
          return true;
        });
        assert.deepStrictEqual(await s.readKey(id(1), "k", opts), { found: true, value: 1 });
      } finally {
        server.resume();
        await s.close();
        await server.stop();
      }
    });

    test("Redis never reachable: unavailable within the bound, then connects when it appears", async () => {
      const port = await freePort();
      const s = createTestRedisStorage(kind, {
        url: `redis://127.0.0.1:${port}`,
        commandTimeoutMs: TIMEOUT_MS,
      });
      let server: Awaited<ReturnType<typeof startRedis>> | undefined;
      try {
        await Promise.all(
          allCalls(s, 2).map(([name, call]) => unavailableWithin(call, `never up ${name}`)),
        );
        server = await startRedis({ port });
        await eventually("connects once Redis is up", async () => {
          await s.ping();
          return true;
        });
        assert.ok(await s.apply(id(2), { ops: [{ type: "set", key: "k", value: 2 }] }, opts));
      } finally {
        await s.close();
        await server?.stop();
      }
    });
  });
}

test("a closed storage refuses calls at once and keeps no handle open", async () => {
  const server = await startRedis();
  const s = createTestRedisStorage("redis", { url: server.url });
  try {
    await s.ping();
    await s.close();
    const start = performance.now();
    await assert.rejects(
      s.ping(),
      (e: unknown) => e instanceof SessionError && e.code === "unavailable",
    );
    assert.ok(performance.now() - start < 200);
  } finally {
    await server.stop();
  }
});

test("a client that gave up reconnecting (status end) is started over by the storage", async () => {
  const server = await startRedis();
  const logger = memoryLogger();
  const s = createTestRedisStorage("redis-hash", { url: server.url }, { logger });
  try {
    await s.ping();
    const client = s.connection.client as Redis;
    const ended = once(client, "end");
    client.disconnect();
    await ended;
    await eventually("ping works again", async () => {
      await s.ping();
      return true;
    });
    assert.ok(
      logger.lines.some((l) => l.msg === "redis client stopped reconnecting; starting over"),
    );
  } finally {
    await s.close();
    await server.stop();
  }
});
