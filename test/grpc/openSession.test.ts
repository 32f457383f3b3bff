// openSession on its own, with no server: what every adapter (the grpc-js interceptor,
// the nice-grpc middleware, your own) relies on. Real Manager, real storage.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { Metadata, status } from "@grpc/grpc-js";
import { ConfigError } from "../../src/core/ConfigError.js";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { SessionError } from "../../src/core/SessionError.js";
import { Manager } from "../../src/core/session/Manager.js";
import { openSession } from "../../src/grpc/openSession.js";
import { InstrumentedStorage } from "../support/serviceInstrumentedStorage.js";

const ID_PATTERN = /^[0-9a-z]{32}$/;

/** Request metadata as nice-grpc's adapter hands it over: only `get(key) → values`. */
function plain(entries: Record<string, string>) {
  return { get: (key: string) => (key in entries ? [entries[key] as string] : []) };
}

describe("openSession", () => {
  const storage = new InstrumentedStorage(new MemoryStorage());
  const manager = new Manager({ storage, logger: silentLogger });
  after(() => manager.close());

  it("refuses a malformed id at once, as invalid_argument", () => {
    for (const metadata of [
      plain({ "x-session-id": "../x" }),
      plain({ cookie: "x-session-id=A" }),
    ]) {
      assert.throws(
        () => openSession(manager, metadata),
        (err: unknown) => err instanceof SessionError && err.code === "invalid_argument",
      );
    }
  });

  it("does nothing until the session is used; then finish commits and names the new id once", async () => {
    storage.resetCounts();
    const handle = openSession(manager, new Metadata());
    assert.equal(handle.opened, undefined, "no Session before first use");
    const untouched = await handle.finish(true);
    assert.deepEqual(untouched, { sessionId: undefined, key: "x-session-id", error: undefined });
    assert.equal(storage.totalCalls, 0, "no storage call");

    const used = openSession(manager, new Metadata());
    used.session.set("n", 1);
    const reply = await used.finish(true);
    assert.match(String(reply.sessionId), ID_PATTERN);
    assert.equal(reply.error, undefined);
    assert.deepEqual((await storage.inner.read(String(reply.sessionId), { ttlMs: 60_000 }))?.data, {
      n: 1,
    });
    assert.equal(used.newId(), undefined, "the id is handed out once");

    const again = openSession(manager, plain({ "x-session-id": String(reply.sessionId) }));
    assert.equal(await again.session.get("n"), 1, "the same session by its id");
    assert.equal((await again.finish(true)).sessionId, undefined, "a known id is not sent again");
  });

  it("finish(false) drops what was queued", async () => {
    const handle = openSession(manager, new Metadata(), { metadataKey: "x-sid" });
    handle.session.set("lost", true);
    const reply = await handle.finish(false);
    assert.deepEqual(reply, { sessionId: undefined, key: "x-sid", error: undefined });
  });

  it("a failed commit is the status to send instead of OK", async () => {
    const handle = openSession(manager, new Metadata(), {
      signal: () => new AbortController().signal,
    });
    handle.session.set("n", 1);
    storage.failure = { error: new SessionError("unavailable", "storage went away") };
    try {
      const reply = await handle.finish(true);
      assert.equal(reply.error?.code, status.UNAVAILABLE);
      // The storage's own words stay out of what the caller sees unless asked for.
      assert.equal(reply.error?.details, "storage unavailable (the server's log has the details)");
      assert.equal(reply.sessionId, undefined, "nothing was created");
      const exposed = openSession(manager, new Metadata(), { exposeStorageErrors: true });
      exposed.session.set("n", 1);
      assert.equal((await exposed.finish(true)).error?.details, "storage went away");
    } finally {
      storage.failure = undefined;
    }
  });

  it("refuses a metadata key that cannot carry an id", () => {
    assert.throws(
      () => openSession(manager, new Metadata(), { metadataKey: "grpc-x" }),
      (err: unknown) => err instanceof ConfigError && /metadata key/.test(err.message),
    );
  });
});
