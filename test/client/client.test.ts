import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { type Deadline, ServerInterceptingCall, type ServiceError, status } from "@grpc/grpc-js";
import { SessionClient } from "../../src/client/SessionClient.js";
import { ConfigError } from "../../src/core/ConfigError.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { type ServiceTestServer, startServiceTestServer } from "../support/serviceTestServer.js";

const ID_PATTERN = /^[0-9a-z]{32}$/;

/** Runs `fn`, which must reject with a gRPC ServiceError of `code`; returns the error. */
async function rejectsWith(fn: () => Promise<unknown>, code: status): Promise<ServiceError> {
  try {
    await fn();
  } catch (err) {
    const e = err as ServiceError;
    assert.equal(e.code, code, `expected status ${code}, got ${e.code}: ${e.details}`);
    assert.equal(typeof e.details, "string");
    return e;
  }
  assert.fail(`expected status ${code}, but the call succeeded`);
}

describe("SessionClient (Node SDK) against a real server", () => {
  let server: ServiceTestServer;
  let client: SessionClient;
  const deadlines: { path: string; deadline: Deadline }[] = [];

  before(async () => {
    server = await startServiceTestServer({
      storage: new MemoryStorage(),
      interceptors: [
        (method, call) => {
          deadlines.push({ path: method.path, deadline: call.getDeadline() });
          return new ServerInterceptingCall(call);
        },
      ],
    });
    client = new SessionClient(server.address);
  });

  after(async () => {
    client?.close();
    await server?.close();
    await server?.storage.close();
  });

  beforeEach(() => {
    server.storage.delayMs = 0;
  });

  it("a handle learns its id from the first write and sends it afterwards", async () => {
    const handle = client.session();
    assert.equal(handle.id, undefined);
    assert.equal(await handle.get("a"), undefined, "no session: nothing found");
    const res = await handle.set("a", { nested: [1, "two"] });
    assert.match(String(handle.id), ID_PATTERN);
    assert.equal(res.sessionId, handle.id);
    assert.equal(res.version, 1);
    assert.deepEqual(await handle.get("a"), { nested: [1, "two"] });

    const same = client.session(handle.id);
    assert.deepEqual(await same.setMap({ b: true, c: null }), { sessionId: handle.id, version: 2 });
    assert.deepEqual(await handle.getData(), { a: { nested: [1, "two"] }, b: true, c: null });
    assert.equal(await handle.get("c"), null, "a stored null is found, as null");
    assert.equal(await handle.contains("b"), true);
    assert.equal(await handle.size(), 3);
    assert.deepEqual(await handle.remove("b"), { version: 3 });
    assert.deepEqual(await handle.remove(["a", "c"]), { version: 4 });
    assert.equal(await handle.size(), 0);
  });

  it("increment, touch, describe and regenerate, with typed results", async () => {
    const handle = client.session();
    const inc = await handle.increment("n");
    assert.equal(inc.value, 1);
    assert.equal((await handle.increment("n", 2.5)).value, 3.5);
    const expiry = await handle.touch();
    assert.ok(expiry instanceof Date && expiry.getTime() > Date.now());
    const d = await handle.describe();
    assert.equal(d.sessionId, handle.id);
    assert.equal(d.version, 2);
    assert.equal(d.size, 1);
    assert.ok(d.createTime instanceof Date && d.expireTime > d.createTime);

    const oldId = handle.id;
    const regen = await handle.regenerate();
    assert.notEqual(handle.id, oldId);
    assert.equal(regen.sessionId, handle.id, "the handle adopted the new id");
    assert.equal(await handle.get("n"), 3.5);
    assert.equal(await client.session(oldId).get("n"), undefined);
  });

  it("removeAll logs out: the handle forgets the id and the session is gone", async () => {
    const handle = client.session();
    await handle.set("a", 1);
    const id = handle.id;
    await handle.removeAll();
    assert.equal(handle.id, undefined);
    await rejectsWith(() => client.session(id).describe(), status.NOT_FOUND);
    await handle.set("b", 2);
    assert.notEqual(handle.id, id, "the next write starts a new session");
  });

  it("a write under an unknown id adopts the fresh id the server issues", async () => {
    const supplied = "0123456789abcdefghijklmnopqrstuv";
    const handle = client.session(supplied);
    await handle.set("a", 1);
    assert.match(String(handle.id), ID_PATTERN);
    assert.notEqual(handle.id, supplied);
  });

  it("two first writes through one handle land in one session", async () => {
    const handle = client.session();
    await Promise.all([handle.set("a", 1), handle.set("b", 2), handle.increment("c")]);
    assert.deepEqual(await handle.getData(), { a: 1, b: 2, c: 1 });
  });

  it("errors are ServiceErrors carrying the status code", async () => {
    await rejectsWith(() => client.session("../x").get("a"), status.INVALID_ARGUMENT);
    await rejectsWith(() => client.session().describe(), status.NOT_FOUND);
    await rejectsWith(() => client.session().touch(), status.NOT_FOUND);
    const handle = client.session();
    await handle.set("a", 1);
    await rejectsWith(() => handle.set("a", 2, { expectedVersion: 7 }), status.ABORTED);
    await rejectsWith(() => handle.set("", 2), status.INVALID_ARGUMENT);
    await rejectsWith(() => handle.increment("a", Number.NaN), status.INVALID_ARGUMENT);
    await handle.set("s", "text");
    await rejectsWith(() => handle.increment("s"), status.FAILED_PRECONDITION);
    assert.equal(await handle.get("a"), 1);
  });

  it("applies the default 5 s deadline to every call", async () => {
    deadlines.length = 0;
    const start = Date.now();
    await client.session().get("a");
    const end = Date.now();
    const seen = deadlines.find((d) => d.path === "/sessiond.v1.SessionService/Get");
    assert.ok(seen, "the call reached the server");
    const deadline = seen.deadline instanceof Date ? seen.deadline.getTime() : seen.deadline;
    assert.ok(
      deadline >= start + 4900 && deadline <= end + 5100,
      `deadline ${deadline - start} ms after the call started`,
    );
  });

  it("a call slower than its deadline fails with DEADLINE_EXCEEDED", async () => {
    const handle = client.session();
    await handle.set("a", 1);
    server.storage.delayMs = 500;
    await rejectsWith(() => handle.get("a", { deadlineMs: 50 }), status.DEADLINE_EXCEEDED);
    const impatient = new SessionClient(server.address, { deadlineMs: 50 });
    try {
      await rejectsWith(() => impatient.session(handle.id).get("a"), status.DEADLINE_EXCEEDED);
    } finally {
      impatient.close();
    }
  });

  it("refuses bad options with a clear error", () => {
    for (const deadlineMs of [0, -1, Number.NaN]) {
      assert.throws(
        () => new SessionClient("127.0.0.1:1", { deadlineMs }),
        (e: unknown) => e instanceof ConfigError && /deadlineMs/.test(e.message),
      );
    }
    assert.throws(
      () => new SessionClient("127.0.0.1:1", { metadataKey: "Bad Key" }),
      (e: unknown) => e instanceof ConfigError && /metadata key/.test(e.message),
    );
  });
});

describe("SessionClient with a custom metadata key", () => {
  it("talks to a server configured with the same key", async () => {
    const server = await startServiceTestServer({
      storage: new MemoryStorage(),
      metadataKey: "x-sid",
    });
    const client = new SessionClient(server.address, { metadataKey: "x-sid" });
    try {
      const handle = client.session();
      await handle.set("a", 1);
      assert.match(String(handle.id), ID_PATTERN);
      assert.equal(await client.session(handle.id).get("a"), 1);
    } finally {
      client.close();
      await server.close();
      await server.storage.close();
    }
  });
});
