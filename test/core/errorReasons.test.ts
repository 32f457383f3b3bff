// Every refusal has a reason, and every reason's code is the one its table row names.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ERROR_REASONS, isErrorReason } from "../../src/core/ErrorReason.js";
import { defaultLimits } from "../../src/core/Limits.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { type Refusal, refusalError } from "../../src/core/Refusal.js";
import { SessionError } from "../../src/core/SessionError.js";
import { Manager } from "../../src/core/session/Manager.js";
import { assertValidKey, storedValue } from "../../src/core/session/validate.js";
import { refusalOfText } from "../../src/core/storage/refusalOfText.js";
import { README } from "../support/readmeBlocks.js";

/** One refusal of every kind; the Record makes the compiler name a kind left out. */
const EVERY_KIND: { [K in Refusal["kind"]]: Extract<Refusal, { kind: K }> } = {
  version: { kind: "version", expected: 2, actual: 3 },
  versionMissing: { kind: "versionMissing", expected: 4 },
  notNumber: { kind: "notNumber", key: "k", holds: "string" },
  overflow: { kind: "overflow", key: "k" },
  tooManyKeys: { kind: "tooManyKeys", keys: 9, maxKeys: 8 },
  tooManyBytes: { kind: "tooManyBytes", bytes: 9, maxSessionBytes: 8 },
  memoryFull: { kind: "memoryFull", growth: 1, used: 2, maxTotalBytes: 3 },
  tooManySessions: { kind: "tooManySessions", sessions: 1, maxSessions: 1 },
  requestIdReused: { kind: "requestIdReused" },
};

function assertReason(err: unknown, reason: string): true {
  assert.ok(err instanceof SessionError, String(err));
  assert.equal(err.reason, reason, err.message);
  assert.ok(isErrorReason(err.reason));
  assert.equal(ERROR_REASONS[err.reason].code, err.code, reason);
  return true;
}

describe("error reasons", () => {
  test("every refusal kind has a reason whose code is the error's, and keeps its refusal", () => {
    const expected: Record<Refusal["kind"], string> = {
      version: "VERSION_MISMATCH",
      versionMissing: "VERSION_MISMATCH",
      notNumber: "NOT_A_NUMBER",
      overflow: "INCREMENT_OVERFLOW",
      tooManyKeys: "TOO_MANY_KEYS",
      tooManyBytes: "SESSION_TOO_LARGE",
      memoryFull: "MEMORY_FULL",
      tooManySessions: "TOO_MANY_SESSIONS",
      requestIdReused: "REQUEST_ID_REUSED",
    };
    for (const refusal of Object.values(EVERY_KIND)) {
      const err = refusalError(refusal);
      assertReason(err, expected[refusal.kind]);
      assert.deepEqual(err.refusal, refusal);
      for (const value of Object.values(err.metadata)) assert.equal(typeof value, "string");
    }
  });

  test("a refusal kept as text (old records, encrypted Redis) reads back as the same Refusal", () => {
    const kinds: Refusal[] = [
      ...Object.values(EVERY_KIND),
      { kind: "memoryFull", growth: 1, used: 2, maxTotalBytes: 3, where: "--max-memory (x)" },
      { kind: "notNumber", key: 'a "quoted"\nkey', holds: "array" },
    ];
    for (const refusal of kinds) {
      const err = refusalError(refusal);
      assert.deepEqual(refusalOfText(err.code, err.message), refusal, err.message);
      // Another code, or words refusalError would not write, are no refusal.
      assert.equal(refusalOfText("internal", err.message), undefined);
      assert.equal(refusalOfText(err.code, `${err.message} `), undefined);
    }
  });

  test("reasons are UPPER_SNAKE and every row names a code", () => {
    for (const [reason, row] of Object.entries(ERROR_REASONS)) {
      assert.match(reason, /^[A-Z][A-Z0-9_]*[A-Z0-9]$/);
      assert.ok(row.meaning.length > 0);
    }
  });

  test("the README's table lists every reason with its code and meaning, in order", () => {
    const readme = README;
    const start = readme.indexOf("<!-- error-reasons:start -->");
    const end = readme.indexOf("<!-- error-reasons:end -->");
    assert.ok(start >= 0 && end > start, "README.md has the error-reasons markers");
    const rows = readme
      .slice(start, end)
      .split("\n")
      .filter((line) => line.startsWith("| `"));
    assert.deepEqual(
      rows,
      Object.entries(ERROR_REASONS).map(
        ([reason, { code, meaning }]) => `| \`${reason}\` | ${code.toUpperCase()} | ${meaning} |`,
      ),
    );
  });

  test("metadata never holds a key or a value", () => {
    const err = refusalError({ kind: "notNumber", key: "secret-key", holds: "string" });
    assert.ok(!JSON.stringify(err.metadata).includes("secret-key"));
  });

  test("Session words a version mismatch of a missing session through refusalError", async () => {
    const manager = new Manager({ storage: new MemoryStorage() });
    const session = manager.session();
    session.set("a", 1);
    await assert.rejects(session.commit({ expectedVersion: 3 }), (err: unknown) => {
      assertReason(err, "VERSION_MISMATCH");
      assert.equal(
        (err as Error).message,
        "version mismatch: expected 3, but the session does not exist",
      );
      assert.deepEqual((err as SessionError).refusal, { kind: "versionMissing", expected: 3 });
      return true;
    });
  });

  test("input checks carry their reasons", () => {
    const limits = { ...defaultLimits, maxKeyBytes: 4, maxValueBytes: 4 };
    assert.throws(
      () => assertValidKey("", limits),
      (e) => assertReason(e, "INVALID_KEY"),
    );
    assert.throws(
      () => assertValidKey("toolong", limits),
      (e) => assertReason(e, "KEY_TOO_LONG"),
    );
    assert.throws(
      () => storedValue("too long", "k", limits),
      (e) => assertReason(e, "VALUE_TOO_LARGE"),
    );
    assert.throws(
      () => storedValue(Number.NaN, "k", limits),
      (e) => assertReason(e, "INVALID_VALUE"),
    );
  });
});
