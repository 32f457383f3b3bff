import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { JsonValue } from "../core/json.js";
import { type Limits, resolveLimits } from "../core/Limits.js";
import { silentLogger } from "../core/Logger.js";
import { SessionError } from "../core/SessionError.js";
import { newSessionId } from "../core/session/ids.js";
import { Manager, type ManagerOptions } from "../core/session/Manager.js";
import { idInFamily } from "../core/storage/idFamily.js";
import type { ApplyMode, ApplyOptions, Expiry, Op, Storage } from "../core/storage/Storage.js";
import { describeRequestIdConformance } from "./describeRequestIdConformance.js";
import { retryOnStall, sleep, within } from "./timing.js";

/** A storage under test. `create` must return a fresh, empty storage; the suite closes it. */
export interface StorageTarget {
  name: string;
  create: () => Storage | Promise<Storage>;
}

const LONG: Expiry = { ttlMs: 60_000 };
const LIMITS = resolveLimits();

function options(mode: ApplyMode, extra: Partial<ApplyOptions> = {}): ApplyOptions {
  return { ...LONG, limits: LIMITS, mode, ...extra };
}

function set(key: string, value: JsonValue): Op {
  return { type: "set", key, value };
}

function code(expected: SessionError["code"]): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SessionError, `expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, expected, `expected code ${expected}, got ${err.code}: ${err.message}`);
    return true;
  };
}

/**
 * Values that must read back exactly as written, on every storage. Covers what JSON text
 * round trips tend to break: big and tiny doubles, astral characters, escapes, deep nesting.
 */
export const ROUND_TRIP_VALUES: Readonly<Record<string, JsonValue>> = Object.freeze({
  null: null,
  true: true,
  false: false,
  zero: 0,
  integer: 42,
  negative: -7,
  maxSafeInteger: 2 ** 53 - 1,
  minSafeInteger: -(2 ** 53 - 1),
  huge: 1e308,
  tinyNegative: -1.5e-300,
  smallestDenormal: 5e-324,
  tenth: 0.1,
  third: 1 / 3,
  emptyString: "",
  ascii: "hello",
  unicode: "héllo wörld ñ 中文 العربية עברית",
  astral: "😀🎉 𝄞 👩‍👩‍👧‍👦 🇳🇱",
  escapes: 'tab\t newline\n nul\u0000 quote" backslash\\ \u2028\u2029',
  emptyArray: [],
  emptyObject: {},
  array: [1, "two", null, true, false, [3, [4, []]], { five: 5 }],
  nested: {
    a: { b: { c: { d: [1, { e: "deep", f: 0.5 }] } } },
    "key with spaces": 1,
    "😀": "emoji key",
    "": "empty key",
    constructor: "not a prototype",
  },
  deep: deepValue(40),
  longString: "x".repeat(10_000),
});

function deepValue(depth: number): JsonValue {
  let value: JsonValue = "bottom";
  for (let i = 0; i < depth; i++) value = i % 2 === 0 ? { level: value } : [value];
  return value;
}

/** Keys a storage must hold as given: separators, dots, unicode, Object.prototype names. */
const ODD_KEYS = [
  "a/b",
  "../x",
  "k.with.dots",
  "😀",
  "constructor",
  "toString",
  "hasOwnProperty",
  " ",
];

/** Ids a storage must refuse (invalid_argument) even though Manager never passes them. */
const HOSTILE_IDS = ["../x", "a/b", "", "a\u0000b", "a b", "a:b", "{a}", "a\\b", "a.b"];

/** Wraps a real storage and records which methods were called; everything else passes through. */
function counting(storage: Storage): { storage: Storage; calls: string[] } {
  const calls: string[] = [];
  const note = <T>(name: string, run: () => Promise<T>): Promise<T> => {
    calls.push(name);
    return run();
  };
  const wrapped: Storage = {
    read: (...args) => note("read", () => storage.read(...args)),
    readKey: (...args) => note("readKey", () => storage.readKey(...args)),
    apply: (...args) => note("apply", () => storage.apply(...args)),
    touch: (...args) => note("touch", () => storage.touch(...args)),
    regenerate: (...args) => note("regenerate", () => storage.regenerate(...args)),
    destroy: (...args) => note("destroy", () => storage.destroy(...args)),
    ping: () => note("ping", () => storage.ping()),
    close: () => storage.close(),
  };
  return { storage: wrapped, calls };
}

/**
 * Registers node:test suites that check `target` against the Storage contract, directly and
 * through Manager/Session. Each test gets a fresh storage from `target.create()` and closes
 * it afterwards. TTLs are sub-second, so the whole suite takes a few seconds.
 *
 * ```ts
 * import { describeStorageConformance } from "sessiond/testing";
 * describeStorageConformance({ name: "mine", create: () => new MyStorage() });
 * ```
 */
export function describeStorageConformance(target: StorageTarget): void {
  /** Runs `body` against a fresh storage and always closes it. */
  const fresh =
    (body: (storage: Storage) => Promise<void>): (() => Promise<void>) =>
    async () => {
      const storage = await target.create();
      try {
        await body(storage);
      } finally {
        await storage.close();
      }
    };
  /** Like fresh(), re-run from scratch (on a new storage) when the machine stalled. */
  const timed = (body: (storage: Storage) => Promise<void>) => () => retryOnStall(fresh(body));
  // A session slid at `since` is alive until at least since + ttl; storages may coalesce
  // slides by up to a twentieth of the TTL, so claims of liveness keep within 90% of it.
  const alive = (ttlMs: number) => Math.floor(ttlMs * 0.9);
  const manager = (storage: Storage, extra: Partial<ManagerOptions> = {}) =>
    new Manager({ storage, logger: silentLogger, ...extra });

  describe(`storage conformance: ${target.name}`, { concurrency: true }, () => {
    // Every test has its own storage, so they can run side by side: the sleeps overlap.
    describe("the Storage contract", { concurrency: true }, () => {
      it(
        "reports a missing session as undefined from every read",
        fresh(async (storage) => {
          const id = newSessionId();
          assert.equal(await storage.read(id, LONG), undefined);
          assert.equal(await storage.readKey(id, "k", LONG), undefined);
          assert.equal(await storage.touch(id, LONG), undefined);
          await storage.destroy(id); // idempotent on a missing session
          await storage.ping();
        }),
      );

      it(
        "apply mode 'create' creates at version 1 and refuses an id that is taken",
        fresh(async (storage) => {
          const id = newSessionId();
          const before = Date.now();
          const created = await storage.apply(id, { ops: [set("a", 1)] }, options("create"));
          assert.ok(created, "create on a free id applies");
          assert.equal(created.version, 1);
          assert.ok(created.createTime >= before - 5 && created.createTime <= Date.now() + 5);
          assert.ok(created.expireTime >= created.createTime + LONG.ttlMs - 5);
          assert.deepEqual(created.incremented, {});
          const again = await storage.apply(id, { ops: [set("a", 2)] }, options("create"));
          assert.equal(again, undefined, "create on a taken id applies nothing");
          const record = await storage.read(id, LONG);
          assert.deepEqual(record?.data, { a: 1 });
          assert.equal(record?.version, 1);
          assert.equal(record?.createTime, created.createTime);
        }),
      );

      it(
        "apply mode 'existing' leaves a missing session missing and updates a live one",
        fresh(async (storage) => {
          const id = newSessionId();
          assert.equal(
            await storage.apply(id, { ops: [set("a", 1)] }, options("existing")),
            undefined,
          );
          assert.equal(await storage.read(id, LONG), undefined);
          await storage.apply(id, { ops: [set("a", 1)] }, options("create"));
          const updated = await storage.apply(id, { ops: [set("b", 2)] }, options("existing"));
          assert.equal(updated?.version, 2);
          assert.deepEqual((await storage.read(id, LONG))?.data, { a: 1, b: 2 });
        }),
      );

      it(
        "apply mode 'upsert' creates when missing and updates when live",
        fresh(async (storage) => {
          const id = newSessionId();
          const first = await storage.apply(id, { ops: [set("a", 1)] }, options("upsert"));
          assert.equal(first?.version, 1);
          const second = await storage.apply(id, { ops: [set("b", 2)] }, options("upsert"));
          assert.equal(second?.version, 2);
          assert.equal(second?.createTime, first?.createTime);
          assert.deepEqual((await storage.read(id, LONG))?.data, { a: 1, b: 2 });
        }),
      );

      it(
        "applies set, remove, increment and clear in order, in one delta",
        fresh(async (storage) => {
          const id = newSessionId();
          await storage.apply(
            id,
            { ops: [set("keep", "k"), set("gone", 1), set("n", 10)] },
            options("create"),
          );
          const ops: Op[] = [
            { type: "remove", key: "gone" },
            { type: "remove", key: "never-there" },
            { type: "increment", key: "n", delta: 5 },
            { type: "increment", key: "fresh", delta: -2.5 },
            set("x", 1),
            { type: "remove", key: "x" },
            { type: "remove", key: "y" },
            set("y", 2),
          ];
          const result = await storage.apply(id, { ops }, options("existing"));
          assert.deepEqual(result?.incremented, { n: 15, fresh: -2.5 });
          assert.deepEqual((await storage.read(id, LONG))?.data, {
            keep: "k",
            n: 15,
            fresh: -2.5,
            y: 2,
          });
          const cleared = await storage.apply(
            id,
            { ops: [set("before", 1), { type: "clear" }, set("after", 2)] },
            options("existing"),
          );
          assert.equal(cleared?.version, 3);
          assert.deepEqual((await storage.read(id, LONG))?.data, { after: 2 });
          const emptied = await storage.apply(
            id,
            { ops: [{ type: "clear" }] },
            options("existing"),
          );
          assert.equal(emptied?.version, 4);
          const record = await storage.read(id, LONG);
          assert.deepEqual(record?.data, {}, "a cleared session still exists, empty");
          assert.equal(record?.version, 4);
        }),
      );

      it(
        "readKey finds present keys only",
        fresh(async (storage) => {
          const id = newSessionId();
          await storage.apply(
            id,
            { ops: [set("a", { b: [1] }), set("n", null)] },
            options("create"),
          );
          assert.deepEqual(await storage.readKey(id, "a", LONG), {
            found: true,
            value: { b: [1] },
          });
          assert.deepEqual(await storage.readKey(id, "n", LONG), { found: true, value: null });
          assert.deepEqual(await storage.readKey(id, "zz", LONG), { found: false });
        }),
      );

      it(
        "holds keys with separators, unicode and Object.prototype names as plain keys",
        fresh(async (storage) => {
          const id = newSessionId();
          const data = Object.fromEntries(ODD_KEYS.map((key, i) => [key, i]));
          await storage.apply(
            id,
            { ops: ODD_KEYS.map((key, i) => set(key, i)) },
            options("create"),
          );
          assert.deepEqual((await storage.read(id, LONG))?.data, data);
          for (const [i, key] of ODD_KEYS.entries()) {
            assert.deepEqual(await storage.readKey(id, key, LONG), { found: true, value: i }, key);
          }
          assert.deepEqual(await storage.readKey(id, "valueOf", LONG), { found: false });
        }),
      );

      it(
        "grows the version by one per applied delta; reads and touches leave it",
        fresh(async (storage) => {
          const id = newSessionId();
          await storage.apply(id, { ops: [set("a", 0)] }, options("create"));
          for (let v = 2; v <= 6; v++) {
            const r = await storage.apply(id, { ops: [set("a", v)] }, options("existing"));
            assert.equal(r?.version, v);
          }
          await storage.read(id, LONG);
          await storage.readKey(id, "a", LONG);
          const touched = await storage.touch(id, LONG);
          assert.equal(touched?.version, 6);
          const empty = await storage.apply(id, { ops: [] }, options("existing"));
          assert.equal(empty?.version, 7, "an empty delta is still an applied write");
          assert.equal((await storage.read(id, LONG))?.version, 7);
        }),
      );

      it(
        "applies nothing on an expected-version mismatch (aborted)",
        fresh(async (storage) => {
          const id = newSessionId();
          await assert.rejects(
            storage.apply(id, { ops: [set("a", 1)], expectedVersion: 1 }, options("upsert")),
            code("aborted"),
          );
          assert.equal(await storage.read(id, LONG), undefined, "nothing created");
          const made = await storage.apply(
            id,
            { ops: [set("a", 1)], expectedVersion: 0 },
            options("upsert"),
          );
          assert.equal(made?.version, 1, "a missing session is at version 0");
          for (const wrong of [0, 2, 7]) {
            await assert.rejects(
              storage.apply(
                id,
                { ops: [set("a", 99), set("b", 1)], expectedVersion: wrong },
                options("existing"),
              ),
              code("aborted"),
            );
          }
          const record = await storage.read(id, LONG);
          assert.deepEqual(record?.data, { a: 1 });
          assert.equal(record?.version, 1);
          const ok = await storage.apply(
            id,
            { ops: [set("a", 2)], expectedVersion: 1 },
            options("existing"),
          );
          assert.equal(ok?.version, 2);
        }),
      );

      it(
        "increments: absent counts as 0; a non-number fails the whole delta",
        fresh(async (storage) => {
          const id = newSessionId();
          const first = await storage.apply(
            id,
            { ops: [{ type: "increment", key: "n", delta: 3 }, set("s", "text")] },
            options("create"),
          );
          assert.deepEqual(first?.incremented, { n: 3 });
          const second = await storage.apply(
            id,
            {
              ops: [
                { type: "increment", key: "n", delta: 0.5 },
                { type: "increment", key: "n", delta: -10 },
              ],
            },
            options("existing"),
          );
          assert.deepEqual(second?.incremented, { n: -6.5 });
          const odd: [string, JsonValue][] = [
            ["s", "text"],
            ["nul", null],
            ["arr", [1]],
            ["obj", { a: 1 }],
            ["bool", true],
          ];
          for (const [key, value] of odd) {
            if (key !== "s")
              await storage.apply(id, { ops: [set(key, value)] }, options("existing"));
            const before = await storage.read(id, LONG);
            await assert.rejects(
              storage.apply(
                id,
                { ops: [set("side", 1), { type: "increment", key, delta: 1 }] },
                options("existing"),
              ),
              code("failed_precondition"),
            );
            const after = await storage.read(id, LONG);
            assert.deepEqual(after?.data, before?.data, "nothing of the delta applied");
            assert.equal(after?.version, before?.version);
          }
        }),
      );

      it(
        "a refused delta that overwrote, removed and added keys first leaves every key as it was",
        fresh(async (storage) => {
          const id = newSessionId();
          const start = { a: 1, b: { deep: [1, 2] }, c: "text" };
          const ops = Object.entries(start).map(([key, value]) => set(key, value));
          await storage.apply(id, { ops }, options("create"));
          const refused: [Op[], SessionError["code"]][] = [
            // Refused by an op: incrementing a string.
            [
              [
                set("a", 2),
                { type: "remove", key: "b" },
                set("d", 4),
                { type: "increment", key: "c", delta: 1 },
              ],
              "failed_precondition",
            ],
            // Refused by a limit on the result, after the same kinds of change.
            [
              [set("a", 2), { type: "remove", key: "b" }, set("d", "x".repeat(2000))],
              "resource_exhausted",
            ],
          ];
          const limits = resolveLimits({ maxSessionBytes: 1000 });
          for (const [delta, why] of refused) {
            await assert.rejects(
              storage.apply(id, { ops: delta }, options("existing", { limits })),
              code(why),
            );
            const after = await storage.read(id, LONG);
            assert.deepEqual(after?.data, start, "nothing of the delta applied");
            assert.equal(after?.version, 1);
          }
          // The size the storage keeps was not thrown off either: the same limit still admits what fits.
          const fits = await storage.apply(
            id,
            { ops: [set("d", "x".repeat(900))] },
            options("existing", { limits }),
          );
          assert.equal(fits?.version, 2);
          await assert.rejects(
            storage.apply(
              id,
              { ops: [set("e", "x".repeat(100))] },
              options("existing", { limits }),
            ),
            code("resource_exhausted"),
          );
        }),
      );

      it(
        "checks maxKeys and maxSessionBytes on the merged result, writing nothing partial",
        fresh(async (storage) => {
          const limits: Limits = resolveLimits({ maxKeys: 4, maxSessionBytes: 200 });
          const id = newSessionId();
          const opts = (mode: ApplyMode) => options(mode, { limits });
          await assert.rejects(
            storage.apply(
              id,
              { ops: ["a", "b", "c", "d", "e"].map((k) => set(k, 1)) },
              opts("create"),
            ),
            code("resource_exhausted"),
          );
          assert.equal(await storage.read(id, LONG), undefined, "nothing created");
          await storage.apply(id, { ops: ["a", "b", "c"].map((k) => set(k, 1)) }, opts("create"));
          await assert.rejects(
            storage.apply(id, { ops: [set("d", 1), set("e", 1)] }, opts("existing")),
            code("resource_exhausted"),
          );
          // The limit applies to the result, not to the ops: adding two and removing one fits.
          const fits = await storage.apply(
            id,
            { ops: [set("d", 1), set("e", 1), { type: "remove", key: "a" }] },
            opts("existing"),
          );
          assert.equal(fits?.version, 2);
          await assert.rejects(
            storage.apply(id, { ops: [set("b", "y".repeat(200))] }, opts("existing")),
            code("resource_exhausted"),
          );
          const record = await storage.read(id, LONG);
          assert.deepEqual(record?.data, { b: 1, c: 1, d: 1, e: 1 });
          assert.equal(record?.version, 2);
        }),
      );

      it(
        "round-trips every kind of JSON value exactly",
        fresh(async (storage) => {
          const id = newSessionId();
          const ops = Object.entries(ROUND_TRIP_VALUES).map(([key, value]) => set(key, value));
          await storage.apply(id, { ops }, options("create"));
          const record = await storage.read(id, LONG);
          assert.deepStrictEqual(record?.data, { ...ROUND_TRIP_VALUES });
          for (const [key, value] of Object.entries(ROUND_TRIP_VALUES)) {
            assert.deepStrictEqual(
              await storage.readKey(id, key, LONG),
              { found: true, value },
              key,
            );
          }
        }),
      );

      it(
        "copies values in and out: callers never share live state with the storage",
        fresh(async (storage) => {
          const id = newSessionId();
          const value = { list: [1, 2], inner: { x: "a" } };
          await storage.apply(id, { ops: [set("v", value)] }, options("create"));
          value.list.push(3);
          value.inner.x = "changed after apply";
          const read = await storage.read(id, LONG);
          assert.ok(read);
          assert.deepEqual(read.data.v, { list: [1, 2], inner: { x: "a" } });
          (read.data.v as { list: number[] }).list.push(4);
          read.data.extra = true;
          const key = await storage.readKey(id, "v", LONG);
          assert.ok(key?.found);
          (key.value as { inner: { x: string } }).inner.x = "changed after readKey";
          const again = await storage.read(id, LONG);
          assert.deepEqual(again?.data, { v: { list: [1, 2], inner: { x: "a" } } });
        }),
      );

      it(
        "destroy hard-deletes and is idempotent; the id can then be created afresh",
        fresh(async (storage) => {
          const id = newSessionId();
          const other = newSessionId();
          await storage.apply(id, { ops: [set("a", 1)] }, options("create"));
          await storage.apply(other, { ops: [set("b", 2)] }, options("create"));
          await storage.destroy(id);
          await storage.destroy(id);
          assert.equal(await storage.read(id, LONG), undefined);
          assert.equal(await storage.readKey(id, "a", LONG), undefined);
          assert.equal(
            await storage.apply(id, { ops: [set("a", 2)] }, options("existing")),
            undefined,
          );
          assert.deepEqual((await storage.read(other, LONG))?.data, { b: 2 }, "others untouched");
          const again = await storage.apply(id, { ops: [set("c", 3)] }, options("create"));
          assert.equal(again?.version, 1);
          assert.deepEqual((await storage.read(id, LONG))?.data, { c: 3 });
        }),
      );

      it(
        "refuses hostile ids with invalid_argument",
        fresh(async (storage) => {
          for (const id of HOSTILE_IDS) {
            const shown = JSON.stringify(id);
            await assert.rejects(
              storage.apply(id, { ops: [set("a", 1)] }, options("upsert")),
              code("invalid_argument"),
              `apply ${shown}`,
            );
            await assert.rejects(storage.read(id, LONG), code("invalid_argument"), `read ${shown}`);
            await assert.rejects(
              storage.readKey(id, "a", LONG),
              code("invalid_argument"),
              `readKey ${shown}`,
            );
            await assert.rejects(
              storage.touch(id, LONG),
              code("invalid_argument"),
              `touch ${shown}`,
            );
            await assert.rejects(storage.destroy(id), code("invalid_argument"), `destroy ${shown}`);
          }
        }),
      );

      it(
        "refuses nonsense TTLs and expected versions with invalid_argument, writing nothing",
        fresh(async (storage) => {
          const id = newSessionId();
          const badExpiries: Expiry[] = [
            { ttlMs: 0 },
            { ttlMs: -1 },
            { ttlMs: Number.NaN },
            { ttlMs: 1.5 },
            { ttlMs: 1000, maxLifetimeMs: 0 },
            { ttlMs: 1000, maxLifetimeMs: Number.POSITIVE_INFINITY },
          ];
          for (const expiry of badExpiries) {
            const shown = JSON.stringify(expiry);
            await assert.rejects(
              storage.apply(id, { ops: [set("a", 1)] }, options("upsert", expiry)),
              code("invalid_argument"),
              `apply ${shown}`,
            );
            await assert.rejects(
              storage.read(id, expiry),
              code("invalid_argument"),
              `read ${shown}`,
            );
            await assert.rejects(
              storage.touch(id, expiry),
              code("invalid_argument"),
              `touch ${shown}`,
            );
          }
          for (const expectedVersion of [-1, 0.5, Number.NaN]) {
            await assert.rejects(
              storage.apply(id, { ops: [set("a", 1)], expectedVersion }, options("upsert")),
              code("invalid_argument"),
              `expectedVersion ${expectedVersion}`,
            );
          }
          assert.equal(await storage.read(id, LONG), undefined, "nothing was created");
        }),
      );

      it(
        "expires a session after its sub-second TTL: it then acts exactly like a missing one",
        timed(async (storage) => {
          const id = newSessionId();
          const ttl: Expiry = { ttlMs: 400 };
          const start = Date.now();
          const made = await storage.apply(id, { ops: [set("a", 1)] }, options("create", ttl));
          assert.ok(made);
          assert.ok(made.expireTime >= start + 400 && made.expireTime <= Date.now() + 400 + 5);
          await within(start, alive(400), "first read", async () => {
            assert.deepEqual(await storage.readKey(id, "a", ttl), { found: true, value: 1 });
          });
          await sleep(800);
          assert.equal(await storage.read(id, ttl), undefined);
          assert.equal(await storage.readKey(id, "a", ttl), undefined);
          assert.equal(await storage.touch(id, ttl), undefined);
          assert.equal(
            await storage.apply(id, { ops: [set("b", 1)] }, options("existing", ttl)),
            undefined,
          );
          const reborn = await storage.apply(id, { ops: [set("b", 2)] }, options("create", ttl));
          assert.equal(reborn?.version, 1, "an expired id is free again, starting at version 1");
          await within(Date.now(), alive(400), "read after re-creation", async () => {
            assert.deepEqual((await storage.read(id, ttl))?.data, { b: 2 }, "no old keys");
          });
        }),
      );

      it(
        "slides the expiry on reads, readKeys and touches, without needing writes",
        timed(async (storage) => {
          const id = newSessionId();
          const ttl: Expiry = { ttlMs: 400 };
          let since = Date.now();
          await storage.apply(id, { ops: [set("a", 1)] }, options("create", ttl));
          const started = Date.now();
          let step = 0;
          // Keep reading for three TTLs; each read must find the session alive.
          while (Date.now() - started < 1200) {
            await sleep(80);
            const kind = step++ % 3;
            const before = Date.now();
            await within(since, alive(400), `access ${step}`, async () => {
              if (kind === 0) {
                const record = await storage.read(id, ttl);
                assert.deepEqual(record?.data, { a: 1 }, `read ${step} found the session`);
                assert.ok(record.expireTime >= before + 400 - 25, "read slid the expiry");
              } else if (kind === 1) {
                assert.deepEqual(await storage.readKey(id, "a", ttl), { found: true, value: 1 });
              } else {
                const meta = await storage.touch(id, ttl);
                assert.ok(meta, `touch ${step} found the session`);
                assert.ok(meta.expireTime >= before + 400, "touch slid the expiry");
                assert.equal(meta.version, 1);
              }
            });
            since = before;
          }
          await within(since, alive(400), "last read", async () => {
            assert.equal((await storage.read(id, ttl))?.version, 1, "sliding wrote nothing");
          });
          await sleep(900);
          assert.equal(await storage.read(id, ttl), undefined, "idle past the TTL: gone");
        }),
      );

      it(
        "never slides past maxLifetime",
        timed(async (storage) => {
          const id = newSessionId();
          const expiry: Expiry = { ttlMs: 2000, maxLifetimeMs: 400 };
          const start = Date.now();
          const made = await storage.apply(id, { ops: [set("a", 1)] }, options("create", expiry));
          assert.ok(made);
          assert.equal(made.expireTime, made.createTime + 400);
          while (Date.now() < made.createTime + 250) {
            await sleep(50);
            await within(start, 390, "read within the lifetime", async () => {
              const record = await storage.read(id, expiry);
              assert.ok(record, "alive within its lifetime");
              assert.equal(record.expireTime, made.createTime + 400, "capped at the lifetime");
            });
          }
          const touched = await storage.touch(id, expiry);
          if (touched) assert.equal(touched.expireTime, made.createTime + 400);
          const updated = await storage.apply(
            id,
            { ops: [set("b", 2)] },
            options("existing", expiry),
          );
          if (updated) assert.equal(updated.expireTime, made.createTime + 400);
          await sleep(Math.max(0, made.createTime + 400 - Date.now()) + 150);
          assert.equal(await storage.read(id, expiry), undefined, "gone after its lifetime");
        }),
      );

      it(
        "serialises 50 concurrent deltas on one id: every key and every increment lands",
        fresh(async (storage) => {
          const id = newSessionId();
          await storage.apply(id, { ops: [set("n", 0)] }, options("create"));
          const results = await Promise.all(
            Array.from({ length: 50 }, (_, i) =>
              storage.apply(
                id,
                { ops: [set(`k${i}`, i), { type: "increment", key: "n", delta: i + 1 }] },
                options("existing"),
              ),
            ),
          );
          const versions = results.map((r) => r?.version).sort((a, b) => (a ?? 0) - (b ?? 0));
          assert.deepEqual(
            versions,
            Array.from({ length: 50 }, (_, i) => i + 2),
          );
          const record = await storage.read(id, LONG);
          assert.equal(record?.data.n, (50 * 51) / 2);
          for (let i = 0; i < 50; i++) assert.equal(record?.data[`k${i}`], i);
          assert.equal(record?.version, 51);
        }),
      );
    });

    describe("bounds on one request", { concurrency: true }, () => {
      it(
        "refuses a delta of more than maxOps ops before any work, changing nothing",
        fresh(async (storage) => {
          const id = newSessionId();
          await storage.apply(id, { ops: [set("keep", 1)] }, options("create"));
          const limits = resolveLimits({ maxOps: 10 });
          const ops = Array.from({ length: 11 }, (_, i) => set(`k${i}`, i));
          await assert.rejects(
            storage.apply(id, { ops }, options("existing", { limits })),
            (err: unknown) => code("resource_exhausted")(err) && /maxOps=10/.test(String(err)),
          );
          const removes: Op[] = Array.from({ length: 50_000 }, (_, i) => ({
            type: "remove",
            key: `k${i}`,
          }));
          await assert.rejects(
            storage.apply(id, { ops: removes }, options("existing")),
            code("resource_exhausted"),
          );
          const record = await storage.read(id, LONG);
          assert.deepEqual(record?.data, { keep: 1 });
          assert.equal(record?.version, 1);
          const exactly = Array.from({ length: 10 }, (_, i) => set(`k${i}`, i));
          assert.ok(await storage.apply(id, { ops: exactly }, options("existing", { limits })));
        }),
      );
    });

    describe("regenerate, one atomic step", { concurrency: true }, () => {
      it(
        "moves data at version 1 keeping the creation time; reports missing and taken",
        fresh(async (storage) => {
          const oldId = newSessionId();
          const made = await storage.apply(
            oldId,
            { ops: [set("a", 1), set("b", "two")] },
            options("create"),
          );
          assert.ok(made);
          await storage.apply(oldId, { ops: [set("c", true)] }, options("existing"));
          const newId = idInFamily(oldId, newSessionId());
          const moved = await storage.regenerate(oldId, newId, { ...LONG, keepOld: false });
          assert.ok(typeof moved === "object", `expected the new meta, got ${String(moved)}`);
          assert.equal(moved.version, 1);
          assert.equal(
            moved.createTime,
            made.createTime,
            "the lifetime counts from the first creation",
          );
          assert.deepEqual((await storage.read(newId, LONG))?.data, { a: 1, b: "two", c: true });
          assert.equal(await storage.read(oldId, LONG), undefined, "the old id is gone");
          assert.equal(
            await storage.regenerate(oldId, idInFamily(oldId, newSessionId()), {
              ...LONG,
              keepOld: false,
            }),
            "missing",
          );

          const copy = idInFamily(newId, newSessionId());
          const kept = await storage.regenerate(newId, copy, { ...LONG, keepOld: true });
          assert.ok(typeof kept === "object");
          assert.deepEqual((await storage.read(copy, LONG))?.data, { a: 1, b: "two", c: true });
          assert.deepEqual((await storage.read(newId, LONG))?.data, { a: 1, b: "two", c: true });

          // The target id in use: nothing changes on either side.
          assert.equal(await storage.regenerate(newId, copy, { ...LONG, keepOld: false }), "taken");
          await storage.apply(copy, { ops: [set("only-copy", 1)] }, options("existing"));
          assert.deepEqual((await storage.read(newId, LONG))?.data, { a: 1, b: "two", c: true });
          assert.equal((await storage.read(copy, LONG))?.data["only-copy"], 1);
        }),
      );

      it(
        "a write racing regenerate lands in the new session or in a fresh one, never OK-then-lost",
        fresh(async (storage) => {
          const m = manager(storage);
          for (let trial = 0; trial < 5; trial++) {
            const owner = m.session();
            owner.set("seed", trial);
            await owner.commit();
            const oldId = owner.id as string;
            const writers = Array.from({ length: 30 }, () => m.session(oldId));
            const writes = writers.map(async (w, i) => {
              // Spread over the regenerate: some before it, some during, some after.
              if (i % 3 > 0) await sleep(i % 3 === 1 ? 0 : 2);
              w.set(`w${i}`, i);
              await w.commit();
            });
            const [newId] = await Promise.all([m.session(oldId).regenerate(), ...writes]);
            const moved = (await storage.read(newId, LONG))?.data ?? {};
            for (const [i, w] of writers.entries()) {
              if (w.id === oldId) {
                assert.equal(
                  moved[`w${i}`],
                  i,
                  `trial ${trial}: write ${i} acknowledged on the old id is lost`,
                );
              } else {
                // Arrived after the move: a fresh session (never the old id reborn) holds it.
                assert.notEqual(w.id, newId);
                assert.equal((await storage.read(w.id as string, LONG))?.data[`w${i}`], i);
              }
            }
            assert.equal(
              await storage.read(oldId, LONG),
              undefined,
              `trial ${trial}: old id alive`,
            );
          }
        }),
      );

      it(
        "of concurrent regenerates of one session exactly one wins",
        fresh(async (storage) => {
          const m = manager(storage);
          const owner = m.session();
          owner.set("k", "v");
          await owner.commit();
          const oldId = owner.id as string;
          const outcomes = await Promise.allSettled(
            Array.from({ length: 8 }, () => m.session(oldId).regenerate()),
          );
          const won = outcomes.filter((o) => o.status === "fulfilled");
          assert.equal(won.length, 1, "exactly one regenerate succeeds");
          for (const o of outcomes) {
            if (o.status === "rejected") code("not_found")(o.reason);
          }
          const newId = (won[0] as PromiseFulfilledResult<string>).value;
          assert.deepEqual((await storage.read(newId, LONG))?.data, { k: "v" });
          assert.equal(await storage.read(oldId, LONG), undefined);
        }),
      );

      it(
        "the absolute lifetime survives regenerate and touch",
        timed(async (storage) => {
          const lifetime = 700;
          const m = manager(storage, { ttlMs: 60_000, maxLifetimeMs: lifetime });
          const s = m.session();
          s.set("a", 1);
          const made = await s.commit();
          assert.ok(made);
          const info = await m.session(s.id).describe();
          assert.equal(info.lifetimeEndTime, made.createTime + lifetime);
          let id = s.id as string;
          let keepOld = false;
          const end = made.createTime + lifetime;
          while (Date.now() < end - 150) {
            try {
              id = await m.session(id).regenerate({ keepOld });
              keepOld = !keepOld;
              await m.session(id).touch();
              const now = await m.session(id).describe();
              assert.equal(now.createTime, made.createTime, "regenerate keeps the creation time");
              assert.ok(now.expireTime <= end);
            } catch (err) {
              // A slow machine can reach the deadline inside the loop: gone is right then.
              code("not_found")(err);
              assert.ok(Date.now() >= end, "not_found before the lifetime ended");
              break;
            }
            await sleep(100);
          }
          await sleep(Math.max(0, made.createTime + lifetime - Date.now()) + 50);
          assert.equal(await m.session(id).get("a"), undefined, "alive past its lifetime");
          await assert.rejects(m.session(id).regenerate(), code("not_found"));
        }),
      );
    });

    describe("through Manager and Session", { concurrency: true }, () => {
      it(
        "reproduces gsession's storage test: set/setMap, fresh reads, remove, removeAll, expiry",
        timed(async (storage) => {
          const m = manager(storage, { ttlMs: 800 });
          const first = m.session();
          first.set("k1", "v1");
          first.set("k2", "v2");
          first.setMap({ k3: "v3", k4: "v4" });
          assert.equal(first.isDirty, true);
          const started = Date.now();
          await first.close();
          const id = first.id;
          assert.ok(id);

          // Everything here holds while the session lives: at most 800 ms from `started`.
          const s = m.session(id);
          const newer = await within(started, alive(800), "phase B", async () => {
            assert.equal(await s.get("k1"), "v1");
            assert.equal(await s.get("k4"), "v4");
            assert.deepEqual(await s.data(), { k1: "v1", k2: "v2", k3: "v3", k4: "v4" });
            assert.equal(s.id, id);
            assert.equal(await s.size(), 4);
            assert.equal(await s.contains("k1"), true);
            assert.equal(await s.contains("k3"), true);
            assert.equal(await s.contains("k5"), false);
            s.remove("k4");
            s.remove("k4");
            assert.equal(await s.size(), 3);
            assert.equal(await s.contains("k4"), false);
            assert.equal(await s.contains("k3"), true);
            await s.commit();
            assert.equal(await m.session(id).size(), 3, "the removal was stored");
            await s.removeAll();
            assert.equal(await s.size(), 0);
            assert.equal(await s.get("k1"), undefined);
            assert.equal(await m.session(id).size(), 0, "removeAll hard-deleted the session");
            s.setMap({ k5: "v5", k6: "v6" });
            assert.equal(await s.size(), 2);
            assert.equal(await s.contains("k5"), true);
            assert.equal(await s.contains("k6"), true);
            await s.close();
            assert.ok(s.id && s.id !== id, "writing after logout issues a fresh id");
            return s.id;
          });

          await sleep(1200);
          for (const gone of [id, newer]) {
            const late = m.session(gone);
            assert.equal(await late.size(), 0);
            assert.equal(await late.get("k5"), undefined);
            assert.equal(await late.get("k6"), undefined);
          }
        }),
      );

      it(
        "is lazy: no id or an unknown id reads empty, creates nothing, and only reads",
        fresh(async (real) => {
          const { storage, calls } = counting(real);
          const m = manager(storage);
          const none = m.session();
          assert.equal(await none.get("a"), undefined);
          assert.equal(await none.get("a", "default"), "default");
          assert.deepEqual(await none.data(), {});
          assert.equal(await none.size(), 0);
          assert.equal(await none.contains("a"), false);
          none.remove("a");
          assert.equal(await none.commit(), undefined, "nothing to commit");
          await none.close();
          assert.deepEqual(calls, [], "a session without id never reaches the storage");
          assert.equal(none.id, undefined);

          const unknown = newSessionId();
          const s = m.session(unknown);
          assert.deepEqual(calls, [], "creating a Session does no I/O");
          assert.equal(await s.get("a", 7), 7);
          assert.deepEqual(await s.data(), {});
          assert.equal(await s.size(), 0);
          await s.close();
          assert.ok(
            calls.every((c) => c === "read" || c === "readKey"),
            calls.join(),
          );
          assert.equal(await real.read(unknown, LONG), undefined, "nothing was created");
          await assert.rejects(s.touch(), code("not_found"));
          await assert.rejects(s.describe(), code("not_found"));
          await assert.rejects(s.regenerate(), code("not_found"));
          await s.removeAll();
          assert.equal(await real.read(unknown, LONG), undefined);
        }),
      );

      it(
        "never adopts an unknown id by default: a write gets a fresh id (anti-fixation)",
        fresh(async (storage) => {
          const m = manager(storage);
          const planted = newSessionId();
          const s = m.session(planted);
          s.set("user", "victim");
          const result = await s.commit();
          assert.ok(result);
          assert.equal(result.version, 1);
          assert.ok(s.id);
          assert.notEqual(s.id, planted);
          assert.equal(s.idIssued, true);
          assert.equal(await storage.read(planted, LONG), undefined, "the planted id stays empty");
          assert.deepEqual((await storage.read(s.id, LONG))?.data, { user: "victim" });

          // A live id is written in place: no new id.
          const again = m.session(s.id);
          again.set("more", 1);
          await again.commit();
          assert.equal(again.id, s.id);
          assert.equal(again.idIssued, false);

          const adopting = manager(storage, { adoptUnknownIds: true });
          const chosen = newSessionId();
          const a = adopting.session(chosen);
          a.set("x", 1);
          await a.commit();
          assert.equal(a.id, chosen, "adoptUnknownIds keeps the supplied id");
          assert.equal(a.idIssued, false);
          assert.deepEqual((await storage.read(chosen, LONG))?.data, { x: 1 });
        }),
      );

      it(
        "regenerate moves the data to a new id; the old id reads empty unless keepOld",
        fresh(async (storage) => {
          const m = manager(storage);
          const s = m.session();
          s.setMap({ key1: "value1", key2: "value2" });
          await s.commit();
          const oldId = s.id as string;
          const newId = await s.regenerate();
          assert.notEqual(newId, oldId);
          assert.equal(s.id, newId);
          assert.equal(s.idIssued, true);
          assert.equal(await s.get("key1"), "value1");
          assert.equal(await s.get("key2"), "value2");
          assert.equal(await m.session(oldId).get("key1"), undefined);
          assert.equal(await storage.read(oldId, LONG), undefined);

          const kept = await s.regenerate({ keepOld: true });
          assert.notEqual(kept, newId);
          assert.equal(await m.session(kept).get("key1"), "value1");
          assert.equal(await m.session(newId).get("key1"), "value1", "keepOld keeps the old one");
          assert.equal((await m.session(kept).describe()).version, 1);
        }),
      );

      it(
        "describe and touch report the stored session",
        fresh(async (storage) => {
          const m = manager(storage, { ttlMs: 10_000 });
          const s = m.session();
          s.setMap({ a: 1, b: 2 });
          const made = await s.commit();
          assert.ok(made);
          const info = await m.session(s.id).describe();
          assert.equal(info.id, s.id);
          assert.equal(info.version, 1);
          assert.equal(info.size, 2);
          assert.equal(info.createTime, made.createTime);
          assert.ok(info.expireTime >= made.createTime + 10_000 - 5);
          const before = Date.now();
          const touched = await m.session(s.id).touch();
          assert.ok(touched.expireTime >= before + 10_000);
          assert.equal(touched.version, 1);
        }),
      );

      it(
        "grows the version with each commit and honours expectedVersion (aborted, nothing applied)",
        fresh(async (storage) => {
          const m = manager(storage);
          const s = m.session();
          s.set("a", 1);
          assert.equal((await s.commit({ expectedVersion: 0 }))?.version, 1);
          const id = s.id as string;
          const t = m.session(id);
          t.set("a", 2);
          assert.equal((await t.commit({ expectedVersion: 1 }))?.version, 2);
          assert.equal(t.version, 2);
          const stale = m.session(id);
          stale.set("a", 3);
          stale.set("b", 3);
          await assert.rejects(stale.commit({ expectedVersion: 1 }), code("aborted"));
          assert.equal(stale.isDirty, false, "a refused delta is dropped");
          const record = await storage.read(id, LONG);
          assert.deepEqual(record?.data, { a: 2 });
          assert.equal(record?.version, 2);
          const ghost = m.session(newSessionId());
          ghost.set("a", 1);
          await assert.rejects(ghost.commit({ expectedVersion: 3 }), code("aborted"));
          assert.equal(ghost.id !== undefined && ghost.idIssued, false, "no session was created");
        }),
      );

      it(
        "round-trips values through Session; -0 is stored as 0 everywhere",
        fresh(async (storage) => {
          const m = manager(storage);
          const s = m.session();
          s.setMap({ ...ROUND_TRIP_VALUES });
          s.set("negativeZero", -0);
          await s.commit();
          const expected = { ...ROUND_TRIP_VALUES, negativeZero: 0 };
          assert.deepStrictEqual(await m.session(s.id).data(), expected);
          const fresh = m.session(s.id);
          for (const [key, value] of Object.entries(expected)) {
            assert.deepStrictEqual(await fresh.get(key), value, key);
          }
        }),
      );

      it(
        "copies: mutating a value after set or after get changes nothing stored",
        fresh(async (storage) => {
          const m = manager(storage);
          const s = m.session();
          const value = { list: [1], inner: { x: 1 } };
          s.set("v", value);
          value.list.push(2);
          assert.deepEqual(await s.get("v"), { list: [1], inner: { x: 1 } }, "before commit");
          await s.commit();
          value.inner.x = 2;
          const reader = m.session(s.id);
          const got = (await reader.get("v")) as { list: number[] };
          got.list.push(3);
          const all = await reader.data();
          (all.v as { inner: { x: number } }).inner.x = 3;
          assert.deepEqual(await reader.get("v"), { list: [1], inner: { x: 1 } });
          assert.deepEqual(await m.session(s.id).get("v"), { list: [1], inner: { x: 1 } });
        }),
      );

      it(
        "enforces limits with typed errors and writes nothing",
        fresh(async (storage) => {
          const m = manager(storage, {
            limits: { maxKeys: 3, maxValueBytes: 100, maxSessionBytes: 150, maxKeyBytes: 10 },
          });
          const s = m.session();
          assert.throws(() => s.set("big", "x".repeat(200)), code("resource_exhausted"));
          assert.throws(() => s.set("k".repeat(11), 1), code("invalid_argument"));
          assert.throws(
            () => s.setMap({ ok: 1, bad: "x".repeat(200) }),
            code("resource_exhausted"),
          );
          assert.equal(s.isDirty, false, "a rejected setMap queues nothing");
          s.setMap({ a: 1, b: 2 });
          await s.commit();
          const id = s.id as string;
          const over = m.session(id);
          over.setMap({ c: 3, d: 4 });
          await assert.rejects(over.commit(), code("resource_exhausted"));
          const heavy = m.session(id);
          heavy.setMap({ a: "y".repeat(80), b: "y".repeat(80) });
          await assert.rejects(heavy.commit(), code("resource_exhausted"));
          const record = await storage.read(id, LONG);
          assert.deepEqual(record?.data, { a: 1, b: 2 });
          assert.equal(record?.version, 1);
        }),
      );

      it(
        "increment: absent is 0; a non-number fails the commit with nothing applied",
        fresh(async (storage) => {
          const m = manager(storage);
          const s = m.session();
          s.increment("n");
          s.increment("n", 4);
          assert.equal(await s.get("n"), 5, "pending increments show in this session's reads");
          s.set("name", "text");
          const made = await s.commit();
          assert.deepEqual(made?.incremented, { n: 5 });
          const t = m.session(s.id);
          t.set("side", true);
          t.increment("name", 1);
          await assert.rejects(t.commit(), code("failed_precondition"));
          assert.deepEqual((await storage.read(s.id as string, LONG))?.data, {
            n: 5,
            name: "text",
          });
        }),
      );

      it(
        "50 concurrent Sessions on one id each set their own key: all 50 keys survive",
        fresh(async (storage) => {
          const m = manager(storage);
          const origin = m.session();
          origin.set("origin", true);
          await origin.commit();
          const id = origin.id as string;
          await Promise.all(
            Array.from({ length: 50 }, async (_, i) => {
              const s = m.session(id);
              assert.equal(await s.contains("origin"), true); // each request reads first
              s.set(`key${i}`, i);
              await s.commit();
              assert.equal(s.id, id);
            }),
          );
          const data = await m.session(id).data();
          assert.equal(Object.keys(data).length, 51);
          for (let i = 0; i < 50; i++) assert.equal(data[`key${i}`], i);
          assert.equal((await m.session(id).describe()).version, 51);
        }),
      );

      it(
        "50 concurrent increments from separate Sessions give the exact total",
        fresh(async (storage) => {
          const m = manager(storage);
          const origin = m.session();
          origin.set("hits", 0);
          await origin.commit();
          const id = origin.id as string;
          await Promise.all(
            Array.from({ length: 50 }, async (_, i) => {
              const s = m.session(id);
              s.increment("hits", i + 1);
              await s.commit();
            }),
          );
          assert.equal(await m.session(id).get("hits"), (50 * 51) / 2);
        }),
      );

      it(
        "a session read again and again stays alive past its TTL",
        timed(async (storage) => {
          const m = manager(storage, { ttlMs: 400 });
          const s = m.session();
          s.set("a", 1);
          let since = Date.now();
          await s.commit();
          const id = s.id as string;
          const started = Date.now();
          while (Date.now() - started < 1200) {
            await sleep(100);
            const before = Date.now();
            await within(since, alive(400), "read", async () => {
              assert.equal(await m.session(id).get("a"), 1, "still alive");
            });
            since = before;
          }
          await within(since, alive(400), "describe", async () => {
            assert.equal((await m.session(id).describe()).version, 1, "reads wrote nothing");
          });
          await sleep(900);
          assert.equal(await m.session(id).get("a"), undefined, "expired once left alone");
        }),
      );
    });

    // Keys are whatever strings a caller sends: Python and Go callers may use "__proto__".
    describeRequestIdConformance(fresh);

    describe("Object.prototype names as keys", { concurrency: true }, () => {
      const PROTO = "__proto__";
      /** Built by JSON.parse: an object literal cannot hold "__proto__" as a key. */
      const nested = (): JsonValue =>
        JSON.parse(
          '{"__proto__": {"polluted": true}, "list": [{"__proto__": 1}], "constructor": 2}',
        );

      /** The own entries in key order (storages need not keep the order keys were added in). */
      const entries = (data: object | undefined) =>
        JSON.stringify(Object.entries(data ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)));

      /** Every key an own property, on a plain object, and nothing added to Object.prototype. */
      const assertOwnKeys = (data: object, keys: string[]) => {
        assert.equal(Object.getPrototypeOf(data), Object.prototype, "a plain object");
        assert.deepEqual(Object.keys(data).sort(), [...keys].sort());
        assert.equal(({} as Record<string, unknown>).polluted, undefined, "no pollution");
      };

      it(
        "stores and reads back __proto__ and other Object.prototype names, top level and nested",
        fresh(async (storage) => {
          const id = newSessionId();
          const keys = ["__proto__", "constructor", "toString", "hasOwnProperty", "valueOf"];
          const ops = keys.map((key, i) => set(key, i === 0 ? nested() : i));
          await storage.apply(id, { ops }, options("create"));
          const record = await storage.read(id, LONG);
          assert.ok(record);
          assertOwnKeys(record.data, keys);
          const proto = record.data[PROTO];
          assert.equal(JSON.stringify(proto), JSON.stringify(nested()));
          assertOwnKeys(proto as object, ["__proto__", "list", "constructor"]);
          const read = await storage.readKey(id, "__proto__", LONG);
          assert.equal(read?.found, true);
          assert.equal(JSON.stringify(read?.value), JSON.stringify(nested()));
          assert.deepEqual(await storage.readKey(id, "isPrototypeOf", LONG), { found: false });
          await storage.apply(
            id,
            { ops: [{ type: "remove", key: "__proto__" }] },
            options("existing"),
          );
          assertOwnKeys((await storage.read(id, LONG))?.data ?? {}, keys.slice(1));
          assert.deepEqual(await storage.readKey(id, "__proto__", LONG), { found: false });
        }),
      );

      it(
        "increments __proto__, constructor and toString from 0 when absent",
        fresh(async (storage) => {
          const id = newSessionId();
          const keys = ["__proto__", "constructor", "toString"];
          const inc = (delta: number): Op[] =>
            keys.map((key) => ({ type: "increment", key, delta }));
          const first = await storage.apply(id, { ops: inc(2) }, options("create"));
          assertOwnKeys(first?.incremented ?? {}, keys);
          assert.equal(
            entries(first?.incremented),
            '[["__proto__",2],["constructor",2],["toString",2]]',
          );
          const second = await storage.apply(id, { ops: inc(3) }, options("existing"));
          assert.equal(
            entries(second?.incremented),
            '[["__proto__",5],["constructor",5],["toString",5]]',
          );
          const data = (await storage.read(id, LONG))?.data ?? {};
          assertOwnKeys(data, keys);
          assert.equal(entries(data), '[["__proto__",5],["constructor",5],["toString",5]]');
        }),
      );

      it(
        "a refused delta that removed and re-set __proto__ leaves it as it was",
        fresh(async (storage) => {
          const id = newSessionId();
          const limits = resolveLimits({ maxSessionBytes: 100 });
          await storage.apply(id, { ops: [set("__proto__", 1)] }, options("create"));
          const ops: Op[] = [
            { type: "remove", key: "__proto__" },
            set("__proto__", { a: 1 }),
            { type: "remove", key: "__proto__" },
            set("big", "x".repeat(200)),
          ];
          await assert.rejects(
            storage.apply(id, { ops }, options("existing", { limits })),
            code("resource_exhausted"),
          );
          const data = (await storage.read(id, LONG))?.data ?? {};
          assertOwnKeys(data, ["__proto__"]);
          assert.equal(entries(data), '[["__proto__",1]]');
        }),
      );

      it(
        "through Session: set, pending reads, increment, data, commit and regenerate keep __proto__",
        fresh(async (storage) => {
          const m = manager(storage);
          const s = m.session();
          s.set("__proto__", nested());
          s.setMap(JSON.parse('{"__proto__": {"x": 1}, "constructor": "c"}'));
          s.increment("toString", 4);
          // Read before the commit: this session's own pending changes.
          assert.equal(JSON.stringify(await s.get("__proto__")), '{"x":1}');
          assert.equal(await s.contains("hasOwnProperty"), false);
          assertOwnKeys(await s.data(), ["__proto__", "constructor", "toString"]);
          await s.commit();
          const id = s.id as string;
          const again = m.session(id);
          assert.equal(JSON.stringify(await again.get("__proto__")), '{"x":1}');
          assert.equal(await again.get("valueOf"), undefined);
          again.increment("__proto__", 1); // holds an object: refused, nothing written
          await assert.rejects(again.commit(), code("failed_precondition"));
          const third = m.session(id);
          third.increment("constructor", 1);
          await assert.rejects(third.commit(), code("failed_precondition"), "holds a string");
          await third.regenerate();
          const data = await m.session(third.id).data();
          assertOwnKeys(data, ["__proto__", "constructor", "toString"]);
          assert.equal(entries(data), '[["__proto__",{"x":1}],["constructor","c"],["toString",4]]');
        }),
      );
    });
  });
}
