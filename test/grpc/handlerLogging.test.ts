// One logger, given once: the handler wrappers log unexpected errors by default (JSON on
// stderr, checked in a child process), and through the interceptor's logger (its
// Manager's) under it; the interceptor's own failures go to its Manager's logger.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  type Client,
  credentials,
  makeGenericClientConstructor,
  Server,
  status,
} from "@grpc/grpc-js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { Manager } from "../../src/core/session/Manager.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import { StorageDecorator } from "../../src/core/storage/StorageDecorator.js";
import { getSession } from "../../src/grpc/getSession.js";
import { sessionInterceptor } from "../../src/grpc/sessionInterceptor.js";
import { unaryHandler } from "../../src/grpc/unaryHandler.js";
import { capturingLogger } from "../support/coreFixtures.js";
import { type Json, unaryMethod } from "../support/jsonService.js";
import { failed, rawCall } from "../support/serviceRawCall.js";
import { bind, shutdown } from "../support/serviceTestServer.js";

const PROBE = fileURLToPath(new URL("../support/handlerErrorProbe.ts", import.meta.url));

/** A storage whose writes fail with a bug (not a SessionError): the commit is `internal`. */
class BrokenWrites extends StorageDecorator {
  override apply(): ReturnType<Storage["apply"]> {
    return Promise.reject(new RangeError("the storage has a bug"));
  }
}

const Svc = {
  bug: unaryMethod("test.Log", "Bug"),
  write: unaryMethod("test.Log", "Write"),
  leftOut: unaryMethod("test.Log", "LeftOut"),
};
const SvcClient = makeGenericClientConstructor(Svc, "Log");

describe("handler errors are logged", () => {
  it("by default, on stderr as JSON, with no logger and no interceptor anywhere", () => {
    const run = spawnSync(process.execPath, ["--import", "tsx", PROBE], {
      encoding: "utf8",
      timeout: 60_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(JSON.parse(run.stdout), {
      noInterceptor: status.INTERNAL,
      bug: status.INTERNAL,
    });
    const lines = run.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const forgot = lines.find((l) => /did not pass through sessionInterceptor/.test(String(l.err)));
    assert.ok(forgot, `no log line for the missing interceptor in:\n${run.stderr}`);
    assert.equal(forgot.level, "error");
    assert.equal(forgot.method, "/test.Probe/NoInterceptor");
    assert.match(String(forgot.err), /new Server\(\{ interceptors: \[sessionInterceptor/);
    const bug = lines.find((l) => l.err === "a bug in the handler");
    assert.ok(bug, `no log line for the handler's bug in:\n${run.stderr}`);
    assert.equal(bug.method, "/test.Probe/Bug");
    assert.match(String(bug.stack), /TypeError: a bug in the handler/);
  });

  describe("under the interceptor, through its Manager's logger", () => {
    const logger = capturingLogger();
    const manager = new Manager({ storage: new BrokenWrites(new MemoryStorage()), logger });
    const server = new Server({
      interceptors: [sessionInterceptor(manager, { methods: (path) => !path.endsWith("LeftOut") })],
    });
    server.addService(Svc, {
      bug: unaryHandler(() => {
        throw new TypeError("bug under the interceptor");
      }),
      write: unaryHandler((call) => {
        getSession(call).set("k", 1);
        return {} as Json;
      }),
      leftOut: unaryHandler((call) => {
        getSession(call);
        return {} as Json;
      }),
    });
    let client: Client;
    const ready = bind(server).then((port) => {
      client = new SvcClient(`127.0.0.1:${port}`, credentials.createInsecure());
    });
    after(async () => {
      client?.close();
      await shutdown(server);
    });
    const logged = (pattern: RegExp) =>
      logger.lines.find((l) => l.level === "error" && pattern.test(String(l.fields.err)));

    it("a handler's unexpected error", async () => {
      await ready;
      failed(await rawCall(client, "bug", {}), status.INTERNAL, /^internal error$/);
      const line = logged(/bug under the interceptor/);
      assert.ok(line, JSON.stringify(logger.lines));
      assert.equal(line.fields.method, "/test.Log/Bug");
    });

    it("the interceptor's own failure (a commit the storage fails with a bug)", async () => {
      await ready;
      failed(await rawCall(client, "write", {}), status.INTERNAL, /^internal error$/);
      assert.ok(logged(/the storage has a bug/), JSON.stringify(logger.lines));
    });

    it("getSession on a method the `methods` option leaves out", async () => {
      await ready;
      failed(await rawCall(client, "leftOut", {}), status.INTERNAL);
      assert.ok(logged(/`methods` option leaves this method out/), JSON.stringify(logger.lines));
    });
  });
});
