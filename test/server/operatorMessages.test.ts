// What the server's refusals tell the person who can fix them, over real gRPC calls: a
// limit names the server setting that sets it (not the library's option name), and a
// malformed id names the metadata entry or cookie that carried it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import { reasonOf } from "../../src/client/reasonOf.js";
import type { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import { sessionClient, unary } from "../support/serverClients.js";

let server: RunningServer;
let client: SessionServiceClient;

before(async () => {
  server = await startServer({
    port: 0,
    storage: "memory",
    maxKeyBytes: 8,
    maxValueBytes: 20,
    maxKeys: 2,
    maxSessionBytes: 40,
    maxOps: 3,
    memoryMaxSessions: 1,
  });
  client = sessionClient(server.address);
});
after(async () => {
  client.close();
  await server.shutdown();
});

async function refusal(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (err) {
    return err as ServiceError;
  }
  assert.fail("the call succeeded");
}

describe("the server's refusals name what the operator can change", () => {
  test("each limit names its SESSIOND_ variable and flag, with the same reason and metadata", async () => {
    const { response } = await unary(client, client.set, { key: "a", value: 1 });
    const id = response.sessionId;
    const cases: Array<[Promise<unknown>, number, string, string]> = [
      [
        unary(client, client.set, { key: "k".repeat(9), value: 1 }, id),
        status.INVALID_ARGUMENT,
        "KEY_TOO_LONG",
        "key is 9 bytes, over the limit 8 set by SESSIOND_MAX_KEY_BYTES (--max-key-bytes)",
      ],
      [
        unary(client, client.set, { key: "v", value: "x".repeat(30) }, id),
        status.RESOURCE_EXHAUSTED,
        "VALUE_TOO_LARGE",
        'value of key "v" is 32 bytes, over the limit 20 set by SESSIOND_MAX_VALUE_BYTES (--max-value-bytes)',
      ],
      [
        unary(client, client.setMap, { data: { b: 1, c: 2, d: 3, e: 4 } }, id),
        status.RESOURCE_EXHAUSTED,
        "TOO_MANY_OPS",
        "one commit may carry at most 3 operations, this one would carry 4: the limit is set by SESSIOND_MAX_OPS (--max-ops)",
      ],
      // Decided by the storage, worded again by the Manager on its way out.
      [
        unary(client, client.setMap, { data: { b: 1, c: 2 } }, id),
        status.RESOURCE_EXHAUSTED,
        "TOO_MANY_KEYS",
        "session would hold 3 keys, over the limit 2 set by SESSIOND_MAX_KEYS (--max-keys)",
      ],
      [
        unary(client, client.setMap, { data: { a: "x".repeat(18), b: "y".repeat(18) } }, id),
        status.RESOURCE_EXHAUSTED,
        "SESSION_TOO_LARGE",
        "session would be 42 bytes, over the limit 40 set by SESSIOND_MAX_SESSION_BYTES (--max-session-bytes)",
      ],
    ];
    for (const [call, code, reason, message] of cases) {
      const err = await refusal(call);
      assert.equal(err.code, code, err.details);
      assert.equal(err.details, message);
      assert.equal(reasonOf(err)?.reason, reason);
      // The metadata keeps the library's names: clients branch on those, not on the text.
      assert.ok(Object.keys(reasonOf(err)?.metadata ?? {}).every((k) => !k.startsWith("SESSIOND")));
    }
    const sessions = await refusal(unary(client, client.set, { key: "a", value: 1 }));
    assert.equal(
      sessions.details,
      "memory storage holds 1 sessions, the limit 1 set by server setting SESSIOND_MEMORY_MAX_SESSIONS",
    );
    assert.equal(reasonOf(sessions)?.reason, "TOO_MANY_SESSIONS");
    assert.deepEqual(reasonOf(sessions)?.metadata, { sessions: "1", maxSessions: "1" });
  });

  test("a malformed id names the metadata entry or the cookie that carried it", async () => {
    const viaHeader = await refusal(unary(client, client.get, { key: "a" }, "abc"));
    assert.equal(viaHeader.code, status.INVALID_ARGUMENT);
    assert.equal(
      viaHeader.details,
      'malformed session id in metadata "x-session-id": must be 32 characters, got 3',
    );
    const metadata = new Metadata();
    metadata.set("cookie", `theme=dark; x-session-id=${"A".repeat(32)}`);
    const viaCookie = await refusal(
      new Promise((resolve, reject) =>
        client.get({ key: "a" }, metadata, (err, res) => (err ? reject(err) : resolve(res))),
      ),
    );
    assert.equal(viaCookie.code, status.INVALID_ARGUMENT);
    assert.equal(
      viaCookie.details,
      'malformed session id in cookie "x-session-id": must contain only the characters [0-9a-z]',
    );
    assert.equal(reasonOf(viaCookie)?.reason, "MALFORMED_SESSION_ID");
  });
});
