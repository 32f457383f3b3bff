/**
 * Redis-specific behaviour of `redis` and `redis-hash` on one real redis-server:
 * exact values, exact increments, expiry always set and slid by reads, sub-second TTLs,
 * nothing written by a refused delta, concurrent writers, key layout, configuration errors.
 */

import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import { ConfigError } from "../../src/core/ConfigError.js";
import { defaultLimits, type Limits } from "../../src/core/Limits.js";
import { SessionError } from "../../src/core/SessionError.js";
import { idFamily } from "../../src/core/storage/idFamily.js";
import type { ApplyOptions, Op } from "../../src/core/storage/Storage.js";
import {
  createRedisStorage,
  type RedisConnectionOptions,
} from "../../src/redis/createRedisStorage.js";
import type { RedisBackedStorage } from "../../src/redis/redisBacked.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import {
  createTestRedisStorage,
  memoryLogger,
  REDIS_KINDS,
  uniquePrefix,
} from "../support/redisStorages.js";

const ID = "0123456789abcdefghijklmnopqrstuv";
const ID2 = "vutsrqponmlkjihgfedcba9876543210";

function opts(over: Partial<ApplyOptions> = {}): ApplyOptions {
  return { mode: "upsert", ttlMs: 60_000, limits: defaultLimits, ...over };
}

async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SessionError, `expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

let server: RedisProcess;
let admin: Redis;

before(async () => {
  server = await startRedis();
  admin = new Redis(server.port, { lazyConnect: true });
  admin.on("error", () => {});
  await admin.connect();
});

after(async () => {
  admin.disconnect();
  await server.stop();
});

/** Every key under `prefix` with its PTTL (-1 = no expiry, -2 = gone). */
async function ttls(prefix: string): Promise<Map<string, number>> {
  const keys = await admin.keys(`${prefix}*`);
  const out = new Map<string, number>();
  for (const key of keys) out.set(key, await admin.pttl(key));
  return out;
}

async function assertAllExpire(prefix: string, step: string) {
  for (const [key, pttl] of await ttls(prefix)) {
    assert.ok(pttl > 0, `after ${step}: key ${key} has PTTL ${pttl}`);
  }
}

async function rawOf(storage: RedisBackedStorage, id: string): Promise<unknown> {
  const key = storage.keyOf(id);
  return (await admin.type(key)) === "hash" ? admin.hgetall(key) : admin.get(key);
}

for (const kind of REDIS_KINDS) {
  describe(`${kind} on a single node`, () => {
    const make = (prefix?: string) => createTestRedisStorage(kind, { url: server.url }, { prefix });

    test("values read back exactly equal, including numbers cjson would round", async () => {
      const s = make();
      try {
        const values = {
          maxSafe: 2 ** 53 - 1,
          minSafe: -(2 ** 53 - 1),
          big: 1e308,
          tiny: -1.5e-300,
          denormal: 5e-324,
          tenth: 0.1,
          third: 1 / 3,
          pi: Math.PI,
          nested: { a: [0.1, 0.2, 0.30000000000000004, { b: 123456789.12345679 }], "": null },
          text: 'é中文🙂 "quoted" \\ / \u0000 \n',
          bool: false,
          nul: null,
          emptyArr: [],
          emptyObj: {},
          "key with \u0000 nul and 🙂": "v",
          "123": "numeric-looking key",
        };
        const ops: Op[] = Object.entries(values).map(([key, value]) => ({
          type: "set",
          key,
          value,
        }));
        const applied = await s.apply(ID, { ops }, opts({ mode: "create" }));
        assert.equal(applied?.version, 1);
        const rec = await s.read(ID, opts());
        assert.deepStrictEqual(rec?.data, values);
        // Both read paths: pipelined (no lifetime) and scripted (lifetime caps the expiry).
        for (const expiry of [opts(), opts({ maxLifetimeMs: 120_000 })]) {
          for (const [key, value] of Object.entries(values)) {
            assert.deepStrictEqual(await s.readKey(ID, key, expiry), { found: true, value });
          }
          for (const absent of ["absent", "constructor", "toString", "__proto__"]) {
            assert.deepStrictEqual(await s.readKey(ID, absent, expiry), { found: false });
          }
          assert.equal(await s.readKey(ID2, "maxSafe", expiry), undefined);
        }
      } finally {
        await s.close();
      }
    });

    test("increments are exact and stored as JavaScript prints the number", async () => {
      const s = make();
      try {
        // Random doubles of every magnitude: the stored text must be String(n) exactly,
        // so byte counts match the other storages and nothing is rounded.
        const doubles: number[] = [0.1, 1e21, 1e-7, 123e-20, 2 ** 60, 1.7976931348623157e308];
        const view = new DataView(new ArrayBuffer(8));
        while (doubles.length < 300) {
          view.setUint32(0, (Math.random() * 2 ** 32) >>> 0);
          view.setUint32(4, (Math.random() * 2 ** 32) >>> 0);
          const n = view.getFloat64(0);
          if (Number.isFinite(n) && n !== 0) doubles.push(n);
        }
        const ops: Op[] = doubles.map((delta, i) => ({ type: "increment", key: `n${i}`, delta }));
        const res = await s.apply(ID, { ops }, opts());
        const raw = (await rawOf(s, ID)) as string | Record<string, string>;
        const stored: Record<string, string> = typeof raw === "string" ? JSON.parse(raw).d : raw;
        doubles.forEach((n, i) => {
          assert.equal(res?.incremented[`n${i}`], n);
          assert.equal(stored[`n${i}`], String(n), `double ${n}`);
        });

        const sum = await s.apply(
          ID,
          {
            ops: [
              { type: "increment", key: "x", delta: 0.1 },
              { type: "increment", key: "x", delta: 0.2 },
              { type: "set", key: "big", value: 2 ** 53 - 2 },
              { type: "increment", key: "big", delta: 1 },
            ],
          },
          opts(),
        );
        assert.deepStrictEqual(sum?.incremented, { x: 0.1 + 0.2, big: 2 ** 53 - 1 });
        assert.deepStrictEqual(await s.readKey(ID, "x", opts()), {
          found: true,
          value: 0.30000000000000004,
        });

        await rejectsWith(
          s.apply(
            ID,
            {
              ops: [
                { type: "set", key: "s", value: "text" },
                { type: "increment", key: "s", delta: 1 },
              ],
            },
            opts(),
          ),
          "failed_precondition",
          /cannot increment key "s": it holds a string, not a number/,
        );
        await rejectsWith(
          s.apply(ID, { ops: [{ type: "increment", key: "n5", delta: 1.7e308 }] }, opts()),
          "failed_precondition",
          /would overflow/,
        );
        assert.deepStrictEqual(await s.readKey(ID, "s", opts()), { found: false });
      } finally {
        await s.close();
      }
    });

    test("every key of a session has an expiry after every kind of operation", async () => {
      const prefix = uniquePrefix();
      const s = make(prefix);
      try {
        const ttl = { ttlMs: 30_000 };
        const steps: [string, () => Promise<unknown>][] = [
          ["create", () => s.apply(ID, { ops: [{ type: "set", key: "a", value: 1 }] }, opts())],
          ["set", () => s.apply(ID, { ops: [{ type: "set", key: "b", value: 2 }] }, opts())],
          [
            "increment",
            () => s.apply(ID, { ops: [{ type: "increment", key: "c", delta: 2 }] }, opts()),
          ],
          ["remove", () => s.apply(ID, { ops: [{ type: "remove", key: "a" }] }, opts())],
          ["read", () => s.read(ID, ttl)],
          ["readKey", () => s.readKey(ID, "b", ttl)],
          ["touch", () => s.touch(ID, ttl)],
          ["clear", () => s.apply(ID, { ops: [{ type: "clear" }] }, opts())],
          [
            "clear+set",
            () =>
              s.apply(
                ID,
                { ops: [{ type: "clear" }, { type: "set", key: "z", value: 0 }] },
                opts(),
              ),
          ],
          ["empty delta", () => s.apply(ID, { ops: [] }, opts())],
          [
            "aborted",
            () =>
              s
                .apply(
                  ID,
                  { ops: [{ type: "set", key: "q", value: 1 }], expectedVersion: 99 },
                  opts(),
                )
                .catch(() => {}),
          ],
          [
            "over limit",
            () =>
              s
                .apply(
                  ID,
                  { ops: [{ type: "set", key: "q", value: "x".repeat(200) }] },
                  opts({ limits: { ...defaultLimits, maxSessionBytes: 100 } }),
                )
                .catch(() => {}),
          ],
          [
            "create existing",
            () =>
              s.apply(ID, { ops: [{ type: "set", key: "q", value: 1 }] }, opts({ mode: "create" })),
          ],
          [
            "existing missing",
            () =>
              s.apply(
                ID2,
                { ops: [{ type: "set", key: "q", value: 1 }] },
                opts({ mode: "existing" }),
              ),
          ],
          [
            "second session",
            () =>
              s.apply(
                ID2,
                { ops: [{ type: "set", key: "q", value: 1 }] },
                opts({ mode: "create" }),
              ),
          ],
        ];
        for (const [name, step] of steps) {
          await step();
          await assertAllExpire(prefix, name);
        }
        assert.equal((await ttls(prefix)).size, 2, "one Redis key per session");
        await s.destroy(ID);
        await s.destroy(ID);
        assert.equal((await ttls(prefix)).size, 1, "destroy removed the session's key");
      } finally {
        await s.close();
      }
    });

    test("reads slide the expiry without rewriting the data", async () => {
      const s = make();
      try {
        const ttl = { ttlMs: 600 };
        const created = await s.apply(
          ID,
          { ops: [{ type: "set", key: "k", value: "v" }] },
          opts(ttl),
        );
        const before = await rawOf(s, ID);
        for (const read of [
          () => s.read(ID, ttl),
          () => s.readKey(ID, "k", ttl),
          () => s.touch(ID, ttl),
        ]) {
          await sleep(350);
          await read();
          const pttl = await admin.pttl(s.keyOf(ID));
          assert.ok(pttl > 450, `expiry slid back to about 600 ms, PTTL ${pttl}`);
        }
        // 1 050 ms after the write, well past the 600 ms TTL: alive only because reads slid it.
        const rec = await s.read(ID, ttl);
        assert.equal(rec?.version, created?.version, "reads do not bump the version");
        assert.deepStrictEqual(await rawOf(s, ID), before, "reads do not rewrite the data");
        assert.ok(rec && rec.expireTime > Date.now() + 400);
      } finally {
        await s.close();
      }
    });

    test("a TTL below one second expires the session and frees its key", async () => {
      const s = make();
      try {
        const ttl = { ttlMs: 150 };
        const res = await s.apply(ID, { ops: [{ type: "set", key: "k", value: 1 }] }, opts(ttl));
        assert.ok(res);
        assert.ok(res.expireTime - res.createTime === 150, "expireTime = createTime + 150 ms");
        const pttl = await admin.pttl(s.keyOf(ID));
        assert.ok(pttl > 0 && pttl <= 150, `PTTL ${pttl}`);
        await sleep(300);
        assert.equal(await s.read(ID, ttl), undefined);
        assert.equal(await s.readKey(ID, "k", ttl), undefined);
        assert.equal(await s.touch(ID, ttl), undefined);
        assert.equal(await admin.exists(s.keyOf(ID)), 0, "Redis freed the key");
        assert.equal(
          await s.apply(
            ID,
            { ops: [{ type: "set", key: "k", value: 1 }] },
            opts({ ...ttl, mode: "existing" }),
          ),
          undefined,
          "an expired session is missing for mode existing",
        );
        const again = await s.apply(ID, { ops: [] }, opts({ ...ttl, mode: "create" }));
        assert.equal(again?.version, 1, "an expired id can be created afresh");
      } finally {
        await s.close();
      }
    });

    test("sliding never passes the absolute lifetime", async () => {
      const s = make();
      try {
        const expiry = { ttlMs: 10_000, maxLifetimeMs: 400 };
        const res = await s.apply(ID, { ops: [{ type: "set", key: "k", value: 1 }] }, opts(expiry));
        assert.equal(res?.expireTime, (res?.createTime ?? 0) + 400);
        await sleep(200);
        const touched = await s.touch(ID, expiry);
        assert.equal(touched?.expireTime, (res?.createTime ?? 0) + 400);
        assert.ok((await admin.pttl(s.keyOf(ID))) <= 200);
        await sleep(250);
        assert.equal(await s.read(ID, expiry), undefined);
        assert.equal(await admin.exists(s.keyOf(ID)), 0);
      } finally {
        await s.close();
      }
    });

    test("deltas longer than one chunk of script arguments set and remove every key", async () => {
      const s = make();
      try {
        const limits: Limits = { ...defaultLimits, maxKeys: 2000, maxOps: 2000 };
        const keys = Array.from({ length: 1200 }, (_, i) => `k${i}`);
        const sets: Op[] = keys.map((key, i) => ({ type: "set", key, value: i }));
        await s.apply(ID, { ops: sets }, opts({ limits }));
        // 1100 removes (more than two chunks of HDEL), then sets beside them.
        const removes: Op[] = keys.slice(100).map((key) => ({ type: "remove", key }));
        const more: Op[] = ["x", "y"].map((key) => ({ type: "set", key, value: key }));
        await s.apply(ID, { ops: [...removes, ...more] }, opts({ limits }));
        const expected: Record<string, unknown> = { x: "x", y: "y" };
        for (const [i, key] of keys.slice(0, 100).entries()) expected[key] = i;
        assert.deepStrictEqual((await s.read(ID, opts()))?.data, expected);
        const raw = await rawOf(s, ID);
        if (typeof raw !== "string") assert.equal(Object.keys(raw as object).length, 103);
      } finally {
        await s.close();
      }
    });

    test("modes, versions and refused deltas leave nothing partial", async () => {
      const s = make();
      try {
        assert.equal(
          await s.apply(
            ID,
            { ops: [{ type: "set", key: "a", value: 1 }] },
            opts({ mode: "existing" }),
          ),
          undefined,
        );
        assert.equal(await admin.exists(s.keyOf(ID)), 0, "mode existing creates nothing");
        const first = await s.apply(
          ID,
          { ops: [{ type: "set", key: "a", value: 1 }] },
          opts({ mode: "create" }),
        );
        assert.equal(first?.version, 1);
        assert.equal(
          await s.apply(
            ID,
            { ops: [{ type: "set", key: "a", value: 2 }] },
            opts({ mode: "create" }),
          ),
          undefined,
        );
        const before = await rawOf(s, ID);

        await rejectsWith(
          s.apply(ID, { ops: [{ type: "set", key: "b", value: 1 }], expectedVersion: 5 }, opts()),
          "aborted",
          /expected 5, session is at 1/,
        );
        const limits: Limits = { ...defaultLimits, maxKeys: 2, maxSessionBytes: 60 };
        await rejectsWith(
          s.apply(
            ID,
            {
              ops: [
                { type: "set", key: "b", value: 1 },
                { type: "set", key: "c", value: 1 },
              ],
            },
            opts({ limits }),
          ),
          "resource_exhausted",
          /session would hold 3 keys, over the limit maxKeys=2/,
        );
        await rejectsWith(
          s.apply(
            ID,
            { ops: [{ type: "set", key: "b", value: "x".repeat(60) }] },
            opts({ limits }),
          ),
          "resource_exhausted",
          /session would be 65 bytes, over the limit maxSessionBytes=60/,
        );
        await rejectsWith(
          s.apply(
            ID,
            {
              ops: [
                { type: "set", key: "z", value: 1 },
                { type: "increment", key: "a", delta: Number.NaN },
              ],
            },
            opts(),
          ),
          "invalid_argument",
        );
        assert.deepStrictEqual(await rawOf(s, ID), before, "refused deltas wrote nothing");

        // Limits count the merged result: removing first makes room.
        const ok = await s.apply(
          ID,
          {
            ops: [
              { type: "remove", key: "a" },
              { type: "set", key: "b", value: 1 },
              { type: "set", key: "c", value: 2 },
            ],
            expectedVersion: 1,
          },
          opts({ limits }),
        );
        assert.equal(ok?.version, 2);
        const cleared = await s.apply(
          ID,
          { ops: [{ type: "clear" }, { type: "set", key: "d", value: "x".repeat(50) }] },
          opts({ limits }),
        );
        assert.equal(cleared?.version, 3);
        assert.deepStrictEqual((await s.read(ID, opts()))?.data, { d: "x".repeat(50) });
      } finally {
        await s.close();
      }
    });

    test("concurrent writers on separate connections never lose each other's keys", async () => {
      const prefix = uniquePrefix();
      const a = make(prefix);
      const b = make(prefix);
      try {
        await a.apply(ID, { ops: [] }, opts({ mode: "create" }));
        const writes = Array.from({ length: 200 }, (_, i) =>
          (i % 2 ? a : b).apply(
            ID,
            {
              ops: [
                { type: "set", key: `k${i}`, value: i },
                { type: "increment", key: "count", delta: 1 },
              ],
            },
            opts({ mode: "existing" }),
          ),
        );
        const results = await Promise.all(writes);
        const versions = results.map((r) => r?.version).sort((x, y) => (x ?? 0) - (y ?? 0));
        assert.deepStrictEqual(
          versions,
          Array.from({ length: 200 }, (_, i) => i + 2),
        );
        const rec = await b.read(ID, opts());
        assert.equal(rec?.version, 201);
        assert.equal(rec?.data.count, 200);
        for (let i = 0; i < 200; i++) assert.equal(rec?.data[`k${i}`], i);
      } finally {
        await a.close();
        await b.close();
      }
    });

    test("every storage call is one round trip: one socket write, one script or one pipelined pair", async () => {
      const s = make();
      const monitor = await admin.monitor();
      try {
        const sent: string[] = [];
        monitor.on("monitor", (_time: string, args: string[], source: string) => {
          // Commands run by a script are reported with source "lua"; count the client's own.
          if (source !== "lua" && args[0]?.toLowerCase() !== "monitor") {
            sent.push((args[0] as string).toLowerCase());
          }
        });
        await s.ping();
        const client = s.connection.client as Redis;
        const stream = client.stream as unknown as { write: (...a: unknown[]) => boolean };
        let writes = 0;
        const write = stream.write.bind(stream);
        stream.write = (...a: unknown[]) => {
          writes++;
          return write(...a);
        };
        const ttl = { ttlMs: 60_000 };
        const capped = { ttlMs: 60_000, maxLifetimeMs: 120_000 };
        const get = kind === "redis" ? "get" : "hget";
        const calls: [string, () => Promise<unknown>, string[]][] = [
          [
            "apply",
            () => s.apply(ID, { ops: [{ type: "set", key: "k", value: 1 }] }, opts()),
            ["evalsha"],
          ],
          ["readKey", () => s.readKey(ID, "k", ttl), [get, "pexpire"]],
          ["readKey with a lifetime", () => s.readKey(ID, "k", capped), ["evalsha"]],
          ["read", () => s.read(ID, ttl), ["evalsha"]],
          ["touch", () => s.touch(ID, ttl), ["evalsha"]],
          ["destroy", () => s.destroy(ID), ["del"]],
        ];
        for (const [name, call, expected] of calls) {
          await sleep(20);
          sent.length = 0;
          writes = 0;
          await call();
          await sleep(50);
          assert.equal(writes, 1, `${name}: ${writes} socket writes`);
          // The first use of a script on a connection goes out as EVAL, later ones EVALSHA.
          assert.deepStrictEqual(
            sent.map((c) => (c === "eval" ? "evalsha" : c)),
            expected,
            `${name} sent ${JSON.stringify(sent)}`,
          );
        }
      } finally {
        monitor.disconnect();
        await s.close();
      }
    });

    test("keys are prefixed and hash-tagged by the id's family; odd ids and prefixes are refused", async () => {
      const s = make("myapp:");
      try {
        await s.apply(ID, { ops: [{ type: "set", key: "k", value: 1 }] }, opts());
        const key = s.keyOf(ID);
        assert.ok(key.startsWith(`myapp:{${idFamily(ID)}}${ID}`), key);
        assert.equal(await admin.exists(key), 1);
        await s.destroy(ID);
        for (const bad of ["../../etc", "a{b}", "", "x".repeat(200), "id with space"]) {
          await rejectsWith(s.read(bad, opts()), "invalid_argument");
          await rejectsWith(s.apply(bad, { ops: [] }, opts()), "invalid_argument");
          await rejectsWith(s.destroy(bad), "invalid_argument");
        }
        await rejectsWith(s.readKey(ID, "", opts()), "invalid_argument");
        await rejectsWith(
          s.apply(ID, { ops: [{ type: "set", key: "", value: 1 }] }, opts()),
          "invalid_argument",
        );
        await rejectsWith(s.read(ID, { ttlMs: 0 }), "invalid_argument");
        for (const prefix of ["a{b", "x}", "has space"]) {
          assert.throws(
            () => createRedisStorage(kind, { url: server.url, prefix }, memoryLogger()),
            (e: unknown) => e instanceof ConfigError && e.option === "prefix",
          );
        }
      } finally {
        await s.close();
      }
    });
  });
}

describe("createRedisStorage", () => {
  /** A ConfigError (a configuration mistake, not a request's outcome) naming `option`. */
  const config = (option: string | undefined, re: RegExp) => (e: unknown) => {
    assert.ok(e instanceof ConfigError, String(e));
    assert.equal(e.option, option);
    assert.match(e.message, re);
    return true;
  };
  const at = (port: number) => ({ host: "127.0.0.1", port });

  test("refuses bad options with a ConfigError naming the option, before connecting", () => {
    const log = memoryLogger();
    const cases: Array<[RedisConnectionOptions, string | undefined, RegExp]> = [
      [{}, undefined, /exactly one of url, clusterNodes or sentinels \+ sentinelName; got none/],
      [{ url: server.url, clusterNodes: [at(1)] }, undefined, /got url and clusterNodes/],
      [{ sentinels: [at(26379)] }, "sentinelName", /^sentinelName: is required with sentinels/],
      [{ url: "http://x" }, "url", /^url: must start with redis:\/\/ or rediss:\/\//],
      [{ url: "not a url" }, "url", /^url: is not a URL$/],
      [{ url: server.url, tls: {} }, "tls", /rediss:\/\/ url only/],
      [
        { clusterNodes: ["nohost:1" as never] },
        "clusterNodes[0]",
        /must be \{ host, port \}, got "nohost:1"/,
      ],
      [{ clusterNodes: [at(70000)] }, "clusterNodes[0].port", /TCP port/],
      [{ clusterNodes: [] }, "clusterNodes", /at least one \{ host, port \}/],
      [
        { url: server.url, commandTimeoutMs: 0 },
        "commandTimeoutMs",
        /whole number of milliseconds of at least 1, got 0/,
      ],
      [{ url: server.url, waitReplicas: -1 }, "waitReplicas", /at least 0/],
      [
        { url: server.url, waitReplicas: 1, waitTimeoutMs: 5000 },
        "waitTimeoutMs",
        /below commandTimeoutMs/,
      ],
      [{ url: server.url, prefix: "a b" }, "prefix", /without braces or spaces/],
      [
        { url: server.url, encryptionKeys: [Buffer.alloc(5)] },
        "encryptionKeys[0]",
        /32 bytes, got 5/,
      ],
    ];
    for (const [options, option, re] of cases) {
      assert.throws(
        () => createRedisStorage("redis", options, log),
        config(option, re),
        JSON.stringify(options),
      );
    }
    assert.throws(
      () => createRedisStorage("memcached" as "redis", { url: server.url }, log),
      config("redis storage kind", /must be "redis" or "redis-hash"/),
    );
    assert.deepEqual(log.lines, [], "nothing connected, nothing logged");
  });

  test("password URLs work and the password never reaches the logs", async () => {
    const secret = "s3cr3t-pa55";
    const locked = await startRedis({ args: ["--requirepass", secret] });
    const logger = memoryLogger();
    const good = createRedisStorage(
      "redis-hash",
      { url: `redis://:${secret}@127.0.0.1:${locked.port}`, prefix: uniquePrefix() },
      logger,
    );
    const wrong = createRedisStorage(
      "redis",
      {
        url: `redis://:wrong-${secret}@127.0.0.1:${locked.port}`,
        commandTimeoutMs: 300,
        prefix: uniquePrefix(),
      },
      logger,
    );
    try {
      await good.ping();
      assert.ok(await good.apply(ID, { ops: [{ type: "set", key: "k", value: 1 }] }, opts()));
      await rejectsWith(wrong.ping(), "unavailable", /WRONGPASS|invalid password|NOAUTH/i);
      const text = JSON.stringify(logger.lines);
      assert.ok(
        logger.lines.some((l) => l.msg === "redis connected"),
        text,
      );
      assert.ok(text.includes("***"), text);
      assert.ok(!text.includes(secret), "password leaked into logs");
    } finally {
      await good.close();
      await wrong.close();
      await locked.stop();
    }
  });
});
