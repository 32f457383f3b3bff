// One semantics (issue 11): every storage refuses a delta for the same reasons and in the
// same words, because each decides a Refusal and refusalError alone words it. The Redis
// scripts reply a tag and data; this checks the texts come out identical everywhere,
// directly and when a request record replays the refusal.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { defaultLimits, type Limits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { type Refusal, refusalError } from "../../src/core/Refusal.js";
import { SessionError } from "../../src/core/SessionError.js";
import type { ApplyOptions, Delta, Storage } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { applyReply } from "../../src/redis/storage/applyReply.js";
import { SpecStorage } from "../../src/testing/SpecStorage.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, REDIS_KINDS, uniquePrefix } from "../support/redisStorages.js";

const ID = "0123456789abcdefghijklmnopqrstuv";
const LIMITS: Limits = { ...defaultLimits, maxKeys: 6, maxSessionBytes: 120 };

const redis: RedisProcess = await startRedis();
const dirs: string[] = [];
after(async () => {
  await redis.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const storages: { name: string; create: () => Storage }[] = [
  { name: "spec", create: () => new SpecStorage() },
  { name: "memory", create: () => new MemoryStorage() },
  {
    name: "file",
    create: () => {
      const dir = mkdtempSync(join(tmpdir(), "sessiond-refusals-"));
      dirs.push(dir);
      return new FileStorage({ dir, logger: silentLogger });
    },
  },
  ...REDIS_KINDS.flatMap((kind) => [
    { name: kind, create: () => createTestRedisStorage(kind, { url: redis.url }) },
    {
      name: `${kind} (encrypted)`,
      create: () =>
        createRedisStorage(
          kind,
          { url: redis.url, prefix: uniquePrefix(), encryptionKeys: [randomBytes(32)] },
          silentLogger,
        ),
    },
  ]),
];

/** Each refusal, the delta that meets it on the session `seeded`, and its text on the wire. */
const seeded: Delta = {
  ops: [
    { type: "set", key: "s", value: "text" },
    { type: "set", key: "b", value: true },
    { type: "set", key: "o", value: { n: 1 } },
    { type: "set", key: "a", value: [1] },
    { type: "set", key: "z", value: null },
    { type: "set", key: "big", value: 1.7e308 },
  ],
};
const cases: { delta: Delta; refusal: Refusal; code: string; text: string }[] = [
  {
    delta: { ops: [{ type: "set", key: "x", value: 1 }], expectedVersion: 7 },
    refusal: { kind: "version", expected: 7, actual: 1 },
    code: "aborted",
    text: "version mismatch: expected 7, session is at 1",
  },
  ...(
    [
      ["s", "string"],
      ["b", "boolean"],
      ["o", "object"],
      ["a", "array"],
      ["z", "null"],
    ] as const
  ).map(([key, holds]) => ({
    delta: { ops: [{ type: "increment" as const, key, delta: 1 }] },
    refusal: { kind: "notNumber" as const, key, holds },
    code: "failed_precondition",
    text: `cannot increment key "${key}": it holds a ${holds}, not a number`,
  })),
  {
    delta: {
      ops: [
        { type: "increment", key: "fresh", delta: 2 },
        { type: "increment", key: "big", delta: 1.7e308 },
      ],
    },
    refusal: { kind: "overflow", key: "big" },
    code: "failed_precondition",
    text: 'incrementing key "big" would overflow',
  },
  {
    delta: { ops: [{ type: "set", key: "seventh", value: 1 }] },
    refusal: { kind: "tooManyKeys", keys: 7, maxKeys: 6 },
    code: "resource_exhausted",
    text: "session would hold 7 keys, over the limit maxKeys=6",
  },
  {
    delta: { ops: [{ type: "set", key: "s", value: "x".repeat(100) }] },
    // s 1+102, b 1+4, o 1+7, a 1+3, z 1+4, big 3+8 ("1.7e+308")
    refusal: { kind: "tooManyBytes", bytes: 136, maxSessionBytes: 120 },
    code: "resource_exhausted",
    text: "session would be 136 bytes, over the limit maxSessionBytes=120",
  },
];

function options(idempotency?: ApplyOptions["idempotency"]): ApplyOptions {
  return { mode: "upsert", ttlMs: 60_000, limits: LIMITS, idempotency };
}

/** The refusal's code, words and reason: a replay from any storage's record carries all three. */
async function refusedWith(
  promise: Promise<unknown>,
  code: string,
  text: string,
  refusal: Refusal,
) {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SessionError, `expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.equal(err.message, text);
    assert.ok(err.reason !== undefined, `no reason: ${text}`);
    assert.equal(err.reason, refusalError(refusal).reason, text);
    assert.deepEqual(err.metadata, refusalError(refusal).metadata, text);
    return true;
  });
}

describe("refusals are worded by refusalError alone", () => {
  test("refusalError gives the texts on the wire", () => {
    for (const { refusal, code, text } of cases) {
      const err = refusalError(refusal);
      assert.equal(err.code, code);
      assert.equal(err.message, text);
    }
  });

  for (const { name, create } of storages) {
    test(`${name}: every refusal, directly and replayed from a request record`, async () => {
      const storage = create();
      try {
        assert.ok(await storage.apply(ID, seeded, options()));
        for (const [i, { delta, refusal, code, text }] of cases.entries()) {
          await refusedWith(storage.apply(ID, delta, options()), code, text, refusal);
          if (name === "spec") continue; // the spec models no request records
          const idem = {
            key: randomBytes(32).toString("hex"),
            fingerprint: randomBytes(32).toString("hex"),
            windowMs: 60_000,
          };
          await refusedWith(storage.apply(ID, delta, options(idem)), code, text, refusal);
          await refusedWith(storage.apply(ID, delta, options(idem)), code, text, refusal);
          assert.equal(
            (await storage.read(ID, options()))?.version,
            1,
            `case ${i} applied nothing`,
          );
        }
      } finally {
        await storage.close();
      }
    });
  }

  test("a refusal recorded before scripts named the kind (the value's JSON text) replays alike", () => {
    for (const [text, holds] of [
      ['"text"', "string"],
      ["true", "boolean"],
      ["false", "boolean"],
      ['{"n":1}', "object"],
      ["[1]", "array"],
      ["null", "null"],
    ] as const) {
      assert.throws(
        () => applyReply(["notnumber", "k", text], undefined, LIMITS),
        (err: unknown) =>
          err instanceof SessionError &&
          err.message === refusalError({ kind: "notNumber", key: "k", holds }).message,
      );
    }
  });

  test("a reply with an unknown tag is an internal error, not a refusal", () => {
    assert.throws(
      () => applyReply(["nonsense", "1"], undefined, LIMITS),
      (err: unknown) => err instanceof SessionError && err.code === "internal",
    );
  });
});
