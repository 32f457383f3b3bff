// Every refusal reaches a client with its reason: a google.rpc.ErrorInfo (domain
// "sessiond") in the grpc-status-details-bin trailer, over a real channel, on memory and
// file storage; replays of recorded refusals carry the same reason; the SDK exposes it
// (err.reason) and reasonOf reads it for plain grpc-js clients. Messages stay as they were.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { type ServiceError, status } from "@grpc/grpc-js";
import { reasonOf } from "../../src/client/reasonOf.js";
import { SessionClient } from "../../src/client/SessionClient.js";
import type { SessionCallError } from "../../src/client/SessionHandle.js";
import { ERROR_DOMAIN, ERROR_REASONS, type ErrorReason } from "../../src/core/ErrorReason.js";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import type { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { decodeStatusDetails } from "../../src/protocol/decodeStatusDetails.js";
import { STATUS_DETAILS_KEY } from "../../src/protocol/ErrorInfo.js";
import { encodeStatusDetails } from "../../src/protocol/encodeStatusDetails.js";
import { sessionClient, unary } from "../support/serverClients.js";
import { type ServiceTestServer, startServiceTestServer } from "../support/serviceTestServer.js";

const LIMITS = {
  maxKeyBytes: 16,
  maxValueBytes: 100,
  maxKeys: 4,
  maxSessionBytes: 250,
  maxOps: 6,
};

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-reasons-"));
  dirs.push(dir);
  return dir;
}

const GRPC_CODES: Record<string, status> = {
  invalid_argument: status.INVALID_ARGUMENT,
  not_found: status.NOT_FOUND,
  aborted: status.ABORTED,
  resource_exhausted: status.RESOURCE_EXHAUSTED,
  failed_precondition: status.FAILED_PRECONDITION,
  already_exists: status.ALREADY_EXISTS,
  unavailable: status.UNAVAILABLE,
};

/**
 * The call fails with `reason`, its table code, and the same reason in the raw trailer
 * (a google.rpc.Status whose code and message are the call's).
 */
async function refused(
  call: Promise<unknown>,
  reason: ErrorReason,
  details?: string | RegExp,
): Promise<SessionCallError> {
  let caught: unknown;
  await assert.rejects(call, (err: unknown) => {
    caught = err;
    return true;
  });
  const err = caught as SessionCallError;
  assert.equal(err.code, GRPC_CODES[ERROR_REASONS[reason].code], `${reason}: ${err.message}`);
  assert.equal(err.reason, reason, err.details);
  assert.equal(err.domain, ERROR_DOMAIN);
  if (typeof details === "string") assert.equal(err.details, details);
  else if (details !== undefined) assert.match(err.details, details);
  const raw = err.metadata.get(STATUS_DETAILS_KEY);
  assert.equal(raw.length, 1, "one grpc-status-details-bin trailer");
  const decoded = decodeStatusDetails(raw[0] as Buffer);
  assert.equal(decoded?.code, err.code);
  assert.equal(decoded?.message, err.details);
  assert.deepEqual(decoded?.errorInfos, [err.errorInfo]);
  assert.deepEqual(reasonOf(err), err.errorInfo);
  return err;
}

function rid(): string {
  return randomBytes(16).toString("base64url");
}

const storages: { name: string; create: () => Storage }[] = [
  { name: "memory", create: () => new MemoryStorage() },
  { name: "file", create: () => new FileStorage({ dir: tempDir(), logger: silentLogger }) },
];

for (const { name, create } of storages) {
  describe(`reasons in the status details (${name} storage)`, () => {
    let server: ServiceTestServer;
    let sdk: SessionClient;
    let raw: SessionServiceClient;

    before(async () => {
      server = await startServiceTestServer({ storage: create(), manager: { limits: LIMITS } });
      sdk = new SessionClient(server.address);
      raw = sessionClient(server.address);
    });
    after(async () => {
      sdk.close();
      raw.close();
      await server.close();
      await server.storage.close();
    });

    test("VERSION_MISMATCH, with the versions as metadata; a missing session too", async () => {
      const h = sdk.session();
      await h.set("a", 1);
      const err = await refused(
        h.set("a", 2, { expectedVersion: 5 }),
        "VERSION_MISMATCH",
        "version mismatch: expected 5, session is at 1",
      );
      assert.deepEqual(err.errorInfo?.metadata, { expected: "5", actual: "1" });
      const missing = await refused(
        sdk.session().set("a", 1, { expectedVersion: 3 }),
        "VERSION_MISMATCH",
        "version mismatch: expected 3, but the session does not exist",
      );
      assert.deepEqual(missing.errorInfo?.metadata, { expected: "3", actual: "0" });
    });

    test("NOT_A_NUMBER and INCREMENT_OVERFLOW; metadata never names the key", async () => {
      const h = sdk.session();
      await h.setMap({ secretkey: "text", big: 1.7e308 });
      const err = await refused(
        h.increment("secretkey"),
        "NOT_A_NUMBER",
        'cannot increment key "secretkey": it holds a string, not a number',
      );
      assert.deepEqual(err.errorInfo?.metadata, { holds: "string" });
      await refused(
        h.increment("big", 1.7e308),
        "INCREMENT_OVERFLOW",
        'incrementing key "big" would overflow',
      );
    });

    test("the limits: TOO_MANY_KEYS, SESSION_TOO_LARGE, VALUE_TOO_LARGE, KEY_TOO_LONG, TOO_MANY_OPS", async () => {
      const five = { a: 1, b: 2, c: 3, d: 4, e: 5 };
      const keys = await refused(
        sdk.session().setMap(five),
        "TOO_MANY_KEYS",
        "session would hold 5 keys, over the limit maxKeys=4",
      );
      assert.deepEqual(keys.errorInfo?.metadata, { keys: "5", maxKeys: "4" });
      const x = "x".repeat(90);
      await refused(
        sdk.session().setMap({ a: x, b: x, c: x }),
        "SESSION_TOO_LARGE",
        /^session would be \d+ bytes, over the limit maxSessionBytes=250$/,
      );
      const value = await refused(
        sdk.session().set("v", "x".repeat(200)),
        "VALUE_TOO_LARGE",
        'value of key "v" is 202 bytes, over the limit maxValueBytes=100',
      );
      assert.deepEqual(value.errorInfo?.metadata, { bytes: "202", maxValueBytes: "100" });
      await refused(
        sdk.session().set("k".repeat(17), 1),
        "KEY_TOO_LONG",
        "key is 17 bytes, over the limit maxKeyBytes=16",
      );
      await refused(sdk.session().setMap({ ...five, f: 6, g: 7 }), "TOO_MANY_OPS", /maxOps=6/);
    });

    test("MALFORMED_SESSION_ID, MALFORMED_REQUEST_ID, REQUEST_ID_REUSED, SESSION_NOT_FOUND", async () => {
      await refused(sdk.session("../x").get("a"), "MALFORMED_SESSION_ID", /^malformed session id/);
      await refused(
        sdk.session().set("a", 1, { requestId: "short" }),
        "MALFORMED_REQUEST_ID",
        /^malformed request_id/,
      );
      const h = sdk.session();
      await h.set("first", 0);
      const id = rid();
      await h.set("a", 1, { requestId: id });
      await refused(
        h.set("a", 2, { requestId: id }),
        "REQUEST_ID_REUSED",
        "request_id was already used for a different request within the window; nothing was applied",
      );
      await refused(sdk.session().touch(), "SESSION_NOT_FOUND", "no session to touch");
      await refused(sdk.session().describe(), "SESSION_NOT_FOUND", "no session to describe");
    });

    test("INVALID_REQUEST, read with reasonOf by a plain grpc-js client", async () => {
      await assert.rejects(unary(raw, raw.remove, { keys: [] }), (err: ServiceError) => {
        assert.equal(err.code, status.INVALID_ARGUMENT);
        assert.equal(err.details, "Remove needs at least one key");
        assert.deepEqual(reasonOf(err), {
          reason: "INVALID_REQUEST",
          domain: ERROR_DOMAIN,
          metadata: {},
        });
        return true;
      });
    });

    test("a recorded refusal replays with the same reason, even after the state changed", async () => {
      const h = sdk.session();
      await h.set("s", "text");
      const id = rid();
      const first = await refused(h.increment("s", 1, { requestId: id }), "NOT_A_NUMBER");
      await h.set("s", 5);
      const again = await refused(h.increment("s", 1, { requestId: id }), "NOT_A_NUMBER");
      assert.equal(again.details, first.details);
      assert.deepEqual(again.errorInfo, first.errorInfo);

      const vid = rid();
      await refused(h.set("a", 1, { expectedVersion: 1, requestId: vid }), "VERSION_MISMATCH");
      await h.set("b", 1);
      const replayed = await refused(
        h.set("a", 1, { expectedVersion: 1, requestId: vid }),
        "VERSION_MISMATCH",
        // The first answer (at 2), not today's state (at 3): a replay.
        "version mismatch: expected 1, session is at 2",
      );
      assert.deepEqual(replayed.errorInfo?.metadata, { expected: "1", actual: "2" });
    });

    test("a success carries no status details; a refusal without a reason none either", async () => {
      const h = sdk.session();
      await h.set("a", 1);
      assert.equal(await h.get("a"), 1);
    });
  });
}

describe("reasons of the storages' own budgets and failures", () => {
  test("TOO_MANY_SESSIONS and MEMORY_FULL (memory)", async () => {
    for (const [options, reason] of [
      [{ maxSessions: 1 }, "TOO_MANY_SESSIONS"],
      [{ maxTotalBytes: 2000 }, "MEMORY_FULL"],
    ] as const) {
      const server = await startServiceTestServer({ storage: new MemoryStorage(options) });
      const sdk = new SessionClient(server.address);
      try {
        await sdk.session().set("a", "x".repeat(100));
        await refused(sdk.session().set("a", "x".repeat(5000)), reason);
      } finally {
        sdk.close();
        await server.close();
        await server.storage.close();
      }
    }
  });

  test("DISK_FULL, then STORAGE_UNAVAILABLE once the storage is closed (file)", async () => {
    const storage = new FileStorage({ dir: tempDir(), logger: silentLogger, maxFiles: 4 });
    const server = await startServiceTestServer({ storage });
    const sdk = new SessionClient(server.address);
    try {
      const h = sdk.session();
      await h.set("a", 1);
      // Files per session vary (a create may leave a record's file too): fill the budget.
      const writes: Promise<unknown>[] = [];
      for (let i = 0; i < 4; i++) writes.push(sdk.session().set("a", 1));
      const outcomes = await Promise.allSettled(writes);
      const full = outcomes.find((o) => o.status === "rejected");
      assert.ok(full, "the budget refused a write");
      await refused(Promise.reject(full.reason), "DISK_FULL", /^file storage is full/);
      await storage.close();
      // The storage's own words (its directory, a Redis address) stay in the server's log.
      await refused(
        h.get("a"),
        "STORAGE_UNAVAILABLE",
        "storage unavailable: nothing was applied, safe to retry (the server's log has the details)",
      );
    } finally {
      sdk.close();
      await server.close();
    }
  });
});

describe("the status details encoding", () => {
  test("equals what a protobuf runtime writes, and reads back", () => {
    const info = {
      reason: "TOO_MANY_KEYS",
      domain: ERROR_DOMAIN,
      metadata: { maxKeys: "4", keys: "5", ü: "x".repeat(300) },
    };
    const bytes = encodeStatusDetails(status.RESOURCE_EXHAUSTED, "é".repeat(100), info);
    const errorInfo = new BinaryWriter()
      .uint32(10)
      .string(info.reason)
      .uint32(18)
      .string(info.domain);
    for (const key of Object.keys(info.metadata).sort()) {
      errorInfo.uint32(26).fork().uint32(10).string(key).uint32(18);
      errorInfo.string(info.metadata[key as keyof typeof info.metadata]).join();
    }
    const any = new BinaryWriter()
      .uint32(10)
      .string("type.googleapis.com/google.rpc.ErrorInfo")
      .uint32(18)
      .bytes(errorInfo.finish())
      .finish();
    const expected = new BinaryWriter()
      .uint32(8)
      .int32(status.RESOURCE_EXHAUSTED)
      .uint32(18)
      .string("é".repeat(100))
      .uint32(26)
      .bytes(any)
      .finish();
    assert.deepEqual(new Uint8Array(bytes), expected);
    assert.deepEqual(decodeStatusDetails(bytes), {
      code: status.RESOURCE_EXHAUSTED,
      message: "é".repeat(100),
      errorInfos: [info],
    });
    assert.equal(decodeStatusDetails(Buffer.from([0xff])), undefined);
  });
});
