// A file's request records keep a refusal as data (the Refusal, worded again by
// refusalError on replay, so with its reason), and records written before that, which
// held the message text, still replay: with the same words and the reason read back.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { defaultLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import type { ApplyOptions, Idempotency } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { tempDir } from "../support/coreFixtures.js";

const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

function storageIn(dir: string): FileStorage {
  // No read cache: each test reads what is on disk. Raw ids: the tests read `<id>.session`.
  return new FileStorage({ dir, logger: silentLogger, readCacheBytes: 0, ids: "raw" });
}

function options(idempotency?: Idempotency): ApplyOptions {
  return { mode: "upsert", ttlMs: 3_600_000, limits: defaultLimits, idempotency };
}

function idem(): Idempotency {
  return {
    key: randomBytes(32).toString("hex"),
    fingerprint: randomBytes(32).toString("hex"),
    windowMs: 600_000,
  };
}

const MISMATCH = "version mismatch: expected 5, session is at 1";

function isMismatch(err: unknown): boolean {
  assert.ok(err instanceof SessionError, String(err));
  assert.equal(err.code, "aborted");
  assert.equal(err.message, MISMATCH);
  assert.equal(err.reason, "VERSION_MISMATCH");
  assert.deepEqual(err.metadata, { expected: "5", actual: "1" });
  return true;
}

/** Rewrites the session file's JSON, keeping its mtime (the session's expiry). */
function rewrite(path: string, change: (file: Record<string, unknown>) => void): void {
  const { atime, mtime } = statSync(path);
  const file = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
  change(file);
  writeFileSync(path, JSON.stringify(file));
  utimesSync(path, atime, mtime);
}

describe("FileStorage request records of refusals", () => {
  it("keeps the Refusal, not its text, and replays it with its reason", async () => {
    const parent = tempDir("refusal-records");
    cleanups.push(parent.cleanup);
    const dir = join(parent.path, "store");
    const id = newSessionId();
    const storage = storageIn(dir);
    await storage.apply(id, { ops: [{ type: "set", key: "a", value: 1 }] }, options());
    const request = idem();
    const delta = { ops: [{ type: "set" as const, key: "a", value: 2 }], expectedVersion: 5 };
    await assert.rejects(storage.apply(id, delta, options(request)), isMismatch);
    const file = JSON.parse(readFileSync(join(dir, `${id}.session`), "utf8"));
    const record = file.requests[request.key];
    assert.deepEqual(record.r, { kind: "version", expected: 5, actual: 1 });
    assert.equal(record.err, undefined, "no text kept");
    await assert.rejects(storage.apply(id, delta, options(request)), isMismatch);
    await storage.close();
  });

  it("replays a record of the old text format with the same words and the reason", async () => {
    const parent = tempDir("refusal-records");
    cleanups.push(parent.cleanup);
    const dir = join(parent.path, "store");
    const id = newSessionId();
    const path = join(dir, `${id}.session`);
    const first = storageIn(dir);
    await first.apply(id, { ops: [{ type: "set", key: "a", value: 1 }] }, options());
    const request = idem();
    const delta = { ops: [{ type: "set" as const, key: "a", value: 2 }], expectedVersion: 5 };
    await assert.rejects(first.apply(id, delta, options(request)), isMismatch);
    await first.close();
    // As a release before refusals were data wrote it.
    rewrite(path, (file) => {
      const requests = file.requests as Record<string, Record<string, unknown>>;
      const record = requests[request.key] as Record<string, unknown>;
      delete record.r;
      record.err = ["aborted", MISMATCH];
    });
    const second = storageIn(dir);
    await assert.rejects(second.apply(id, delta, options(request)), isMismatch);
    // An old record whose words are no refusal sessiond words still replays, reasonless.
    rewrite(path, (file) => {
      const requests = file.requests as Record<string, Record<string, unknown>>;
      (requests[request.key] as Record<string, unknown>).err = ["aborted", "some other words"];
    });
    await assert.rejects(second.apply(id, delta, options(request)), (err: unknown) => {
      assert.ok(err instanceof SessionError);
      assert.equal(err.message, "some other words");
      assert.equal(err.reason, undefined);
      return true;
    });
    await second.close();
  });
});
