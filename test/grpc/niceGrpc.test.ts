// sessiond/nice-grpc on a real nice-grpc server, called over a real channel on 127.0.0.1:
// the same promises as the grpc-js interceptor (id in, id back in the header, commit
// before the response, SessionError as its own status), in nice-grpc's own terms.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  type Client,
  type ClientDuplexStream,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import {
  createChannel,
  createClient,
  createServer,
  Metadata as NiceMetadata,
  type Server,
  ServerError,
} from "nice-grpc";
import { reasonOf } from "../../src/client/reasonOf.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { SessionError } from "../../src/core/SessionError.js";
import { Manager } from "../../src/core/session/Manager.js";
import type { Session } from "../../src/core/session/Session.js";
import type { SessionCallContext, SessionContextExt } from "../../src/nice-grpc/SessionContext.js";
import { sessionMiddleware } from "../../src/nice-grpc/sessionMiddleware.js";
import { capturingLogger } from "../support/coreFixtures.js";
import { readCountdown } from "../support/countdownStream.js";
import {
  bidiStreamingMethod,
  type Json,
  serverStreamingMethod,
  unaryMethod,
} from "../support/jsonService.js";
import { InstrumentedStorage } from "../support/serviceInstrumentedStorage.js";
import { failed, ok, rawCall, returnedId } from "../support/serviceRawCall.js";

const ShopService = {
  ping: unaryMethod("test.NiceShop", "Ping"),
  addToCart: unaryMethod("test.NiceShop", "AddToCart"),
  cart: unaryMethod("test.NiceShop", "Cart"),
  sameSession: unaryMethod("test.NiceShop", "SameSession"),
  conflict: unaryMethod("test.NiceShop", "Conflict"),
  bug: unaryMethod("test.NiceShop", "Bug"),
  refuse: unaryMethod("test.NiceShop", "Refuse"),
  writeThenFail: unaryMethod("test.NiceShop", "WriteThenFail"),
  untracked: unaryMethod("test.NiceShop", "Untracked"),
  countdown: serverStreamingMethod("test.NiceShop", "Countdown"),
  chat: bidiStreamingMethod("test.NiceShop", "Chat"),
  headerAfterWrite: unaryMethod("test.NiceShop", "HeaderAfterWrite"),
};
const ShopClient = makeGenericClientConstructor(ShopService, "NiceShop");

const ID_PATTERN = /^[0-9a-z]{32}$/;

describe("sessionMiddleware on a nice-grpc server", () => {
  const storage = new InstrumentedStorage(new MemoryStorage());
  const logger = capturingLogger();
  const manager = new Manager({ storage, logger });
  const ran: Record<string, number> = {};
  const seen: Session[] = [];
  let server: Server<SessionContextExt>;
  let client: Client;
  let address: string;

  const count = (name: string) => {
    ran[name] = (ran[name] ?? 0) + 1;
  };

  before(async () => {
    server = createServer().use(
      sessionMiddleware(manager, { methods: (path) => path !== "/test.NiceShop/Untracked" }),
    );
    server.add(ShopService, {
      async ping(request: Json) {
        return { pong: request.n };
      },
      async addToCart(request: Json, context: SessionCallContext) {
        count("addToCart");
        const cart = ((await context.session.get("cart")) ?? []) as string[];
        // No commit here: the middleware commits before the response leaves.
        context.session.set("cart", [...cart, String(request.item)]);
        return { added: request.item };
      },
      async cart(_request: Json, context: SessionCallContext) {
        count("cart");
        return { cart: (await context.session.get("cart")) ?? null };
      },
      async sameSession(_request: Json, context: SessionCallContext) {
        seen.push(context.session, context.session);
        return {};
      },
      async conflict(_request: Json, context: SessionCallContext) {
        context.session.set("x", 1);
        // A version the session never had: the commit is refused with ABORTED.
        await context.session.commit({ expectedVersion: 99 });
        return {};
      },
      async bug() {
        await Promise.resolve();
        throw new Error("bug after an await: /internal/detail");
      },
      async refuse() {
        throw new ServerError(status.PERMISSION_DENIED, "not your cart");
      },
      async writeThenFail(_request: Json, context: SessionCallContext) {
        context.session.set("cart", ["should not persist"]);
        await Promise.resolve();
        throw new SessionError("failed_precondition", "out of stock");
      },
      async untracked(_request: Json, context: SessionCallContext) {
        try {
          return { session: typeof context.session };
        } catch (err) {
          return { error: (err as Error).message };
        }
      },
      async *countdown(request: Json, context: SessionCallContext) {
        if (request.headersFirst) context.sendHeader();
        for (let i = 0; i < Number(request.n); i++) {
          context.session.increment("ticks");
          yield { i };
        }
      },
      async headerAfterWrite(_request: Json, context: SessionCallContext) {
        context.session.set("early", true);
        // Synchronous in nice-grpc: the header waits for the commit of "early" instead.
        context.sendHeader();
        return {};
      },
      async *chat(requests: AsyncIterable<Json>, context: SessionCallContext) {
        for await (const msg of requests) {
          context.session.increment("said");
          yield { echo: msg.text };
        }
      },
    });
    const port = await server.listen("127.0.0.1:0");
    address = `127.0.0.1:${port}`;
    client = new ShopClient(address, credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await server?.shutdown();
    await manager.close();
    await storage.close();
  });

  beforeEach(() => {
    storage.failure = undefined;
    storage.resetCounts();
  });

  it("a handler that never touches its session causes zero storage calls", async () => {
    const out = await rawCall<Json>(client, "ping", { n: 1 }, { id: "a".repeat(32) });
    assert.deepEqual(ok(out), { pong: 1 });
    assert.equal(storage.totalCalls, 0, "no storage call");
    assert.equal(returnedId(out), undefined);
  });

  it("a write gets a new id in the response headers, committed before the response", async () => {
    const out = await rawCall<Json>(client, "addToCart", { item: "apple" });
    assert.deepEqual(ok(out), { added: "apple" });
    const id = String(out.headers?.get("x-session-id")[0]);
    assert.match(id, ID_PATTERN);
    const stored = await storage.inner.read(id, { ttlMs: 60_000 });
    assert.deepEqual(stored?.data, { cart: ["apple"] }, "durable when the response arrived");

    const again = await rawCall<Json>(client, "addToCart", { item: "pear" }, { id });
    ok(again);
    assert.equal(returnedId(again), undefined, "an existing session needs no new id");
    const cart = ok(await rawCall<Json>(client, "cart", {}, { id }));
    assert.deepEqual(cart, { cart: ["apple", "pear"] });
  });

  it("round trip through nice-grpc's own client: the same id finds the same session", async () => {
    const channel = createChannel(address);
    const nice = createClient(ShopService, channel);
    try {
      let id: string | undefined;
      await nice.addToCart(
        { item: "fig" },
        {
          onHeader(header) {
            id = header.get("x-session-id");
          },
        },
      );
      assert.match(String(id), ID_PATTERN, "new id in the header nice-grpc's client sees");
      const metadata = NiceMetadata({ "x-session-id": String(id) });
      const cart = await nice.cart({}, { metadata });
      assert.deepEqual(cart, { cart: ["fig"] });
    } finally {
      channel.close();
    }
  });

  it("sendHeader() with changes queued sends the header after their commit, new id in it", async () => {
    const out = await rawCall<Json>(client, "headerAfterWrite", {});
    ok(out);
    const id = String(out.headers?.get("x-session-id")[0]);
    assert.match(id, ID_PATTERN, "the id the commit created rides in the header");
    assert.equal(out.trailers?.get("x-session-id").length ?? 0, 0, "and only there");
    assert.deepEqual((await storage.inner.read(id, { ttlMs: 60_000 }))?.data, { early: true });
  });

  it("one Session per call, a new one per call", async () => {
    seen.length = 0;
    ok(await rawCall(client, "sameSession", {}));
    ok(await rawCall(client, "sameSession", {}));
    assert.equal(seen.length, 4);
    assert.equal(seen[0], seen[1], "the same Session within a call");
    assert.notEqual(seen[1], seen[2], "another Session for the next call");
  });

  it("a malformed id is INVALID_ARGUMENT and the handler never runs", async () => {
    const before = ran.cart ?? 0;
    failed(
      await rawCall(client, "cart", {}, { id: "../../etc/passwd" }),
      status.INVALID_ARGUMENT,
      /^malformed session id in metadata "x-session-id": /,
    );
    const md = new Metadata();
    md.set("cookie", "x-session-id=../x");
    failed(
      await rawCall(client, "cart", {}, { metadata: md }),
      status.INVALID_ARGUMENT,
      /^malformed session id in cookie "x-session-id": /,
    );
    assert.equal(ran.cart ?? 0, before, "handler did not run");
    assert.equal(storage.totalCalls, 0, "storage was not asked");
  });

  it("reads the id from a cookie when the metadata key is absent", async () => {
    const id = String(returnedId(await rawCall(client, "addToCart", { item: "kiwi" })));
    const md = new Metadata();
    md.set("cookie", `theme=dark; x-session-id="${id}"`);
    assert.deepEqual(ok(await rawCall(client, "cart", {}, { metadata: md })), { cart: ["kiwi"] });
  });

  it("a SessionError from the handler is its own status, not UNKNOWN, and nothing is kept", async () => {
    const out = await rawCall(client, "writeThenFail", {});
    failed(out, status.FAILED_PRECONDITION, /^out of stock$/);
    assert.equal(returnedId(out), undefined);
    assert.equal(storage.calls.apply, 0, "a failed call commits nothing");
    failed(await rawCall(client, "conflict", {}), status.ABORTED);
  });

  it("a refusal's reason reaches the client in the status details (google.rpc.ErrorInfo)", async () => {
    const conflict = failed(await rawCall(client, "conflict", {}), status.ABORTED);
    assert.deepEqual(reasonOf(conflict), {
      reason: "VERSION_MISMATCH",
      domain: "sessiond",
      metadata: { expected: "99", actual: "0" },
    });
    const malformed = failed(
      await rawCall(client, "cart", {}, { id: "../x" }),
      status.INVALID_ARGUMENT,
    );
    assert.equal(reasonOf(malformed)?.reason, "MALFORMED_SESSION_ID");
    // A SessionError without a reason sends no details.
    assert.equal(
      reasonOf(failed(await rawCall(client, "writeThenFail", {}), status.FAILED_PRECONDITION)),
      undefined,
    );
  });

  it("nice-grpc's ServerError keeps its code; a bug is INTERNAL, logged, no detail on the wire", async () => {
    failed(await rawCall(client, "refuse", {}), status.PERMISSION_DENIED, /^not your cart$/);
    const err = failed(await rawCall(client, "bug", {}), status.INTERNAL);
    assert.equal(err.details, "internal error");
    const line = logger.lines.find((l) => /bug after an await/.test(String(l.fields.err)));
    assert.ok(line, "the bug is logged with its stack");
    assert.equal(line.fields.method, "/test.NiceShop/Bug");
  });

  it("a commit that fails turns the response into the mapped status, never OK", async () => {
    const id = String(returnedId(await rawCall(client, "addToCart", { item: "plum" })));
    storage.failure = {
      error: new SessionError("unavailable", "storage unreachable", {
        reason: "STORAGE_UNAVAILABLE",
      }),
      only: ["apply"],
    };
    const out = await rawCall(client, "addToCart", { item: "lime" }, { id });
    // The commit after the handler: its reason goes in the trailer too, and the storage's
    // own words stay out of the caller's message (exposeStorageErrors is off by default).
    assert.equal(
      reasonOf(failed(out, status.UNAVAILABLE, /^storage unavailable: nothing was applied/))
        ?.reason,
      "STORAGE_UNAVAILABLE",
    );
    storage.failure = undefined;
    assert.deepEqual(ok(await rawCall(client, "cart", {}, { id })), { cart: ["plum"] });
  });

  it("methods left out by the filter: no id check, and context.session says why", async () => {
    // A malformed id is not even looked at...
    const out = ok(await rawCall<Json>(client, "untracked", {}, { id: "../x" }));
    // ...and the handler that asks for a session there learns which option left it out.
    assert.match(
      String(out.error),
      /\/test\.NiceShop\/Untracked is left out by sessionMiddleware's `methods` option/,
    );
  });

  describe("server streaming", () => {
    const stream = (req: Json, id?: string) => readCountdown(client, storage.inner, req, id);

    it("commits before each message; the new id rides in the headers", async () => {
      const out = await stream({ n: 4 });
      assert.equal(out.error, undefined, out.error?.message ?? "");
      assert.equal(out.messages.length, 4);
      const id = String(out.headers?.get("x-session-id")[0]);
      assert.match(id, ID_PATTERN);
      for (const m of out.messages) {
        assert.ok(
          m.storedTicks !== undefined && m.storedTicks >= m.i + 1,
          `message ${m.i} arrived with ${m.storedTicks} ticks stored`,
        );
      }
      assert.equal((await storage.inner.read(id, { ttlMs: 60_000 }))?.data.ticks, 4);
      const next = await stream({ n: 2 }, id);
      assert.equal(next.error, undefined, next.error?.message ?? "");
      assert.equal(
        next.headers?.get("x-session-id").length ?? 0,
        0,
        "no new id for a known session",
      );
      assert.equal((await storage.inner.read(id, { ttlMs: 60_000 }))?.data.ticks, 6);
    });

    it("a header sent before the first write: the new id comes in the trailers", async () => {
      const out = await stream({ n: 2, headersFirst: true });
      assert.equal(out.error, undefined, out.error?.message ?? "");
      assert.equal(out.headers?.get("x-session-id").length ?? 0, 0);
      const id = String(out.trailers?.get("x-session-id")[0]);
      assert.match(id, ID_PATTERN);
      assert.equal((await storage.inner.read(id, { ttlMs: 60_000 }))?.data.ticks, 2);
    });

    it("a commit failing mid-stream ends the stream with the mapped status", async () => {
      const first = await stream({ n: 1 });
      const id = String(first.headers?.get("x-session-id")[0]);
      storage.failure = { error: new SessionError("unavailable", "storage went away") };
      const out = await stream({ n: 3 }, id);
      assert.equal(out.messages.length, 0, "no message leaves before its commit");
      assert.equal(out.error?.code, status.UNAVAILABLE);
      assert.match(String(out.error?.details), /^storage unavailable \(the server's log/);
    });
  });

  it("bidi streaming: each reply follows the commit of the write before it, id in headers", async () => {
    const out = await new Promise<{ echoes: string[]; headers?: Metadata; err?: ServiceError }>(
      (resolve) => {
        const result: { echoes: string[]; headers?: Metadata; err?: ServiceError } = { echoes: [] };
        const call = (
          client as unknown as Record<string, (...a: unknown[]) => ClientDuplexStream<Json, Json>>
        ).chat.call(client, new Metadata(), { deadline: Date.now() + 5000 });
        call.on("metadata", (h: Metadata) => {
          result.headers = h;
        });
        call.on("data", (msg: Json) => result.echoes.push(String(msg.echo)));
        call.on("error", (err: ServiceError) => {
          result.err = err;
        });
        call.on("status", () => resolve(result));
        for (const text of ["hi", "there", "!"]) call.write({ text });
        call.end();
      },
    );
    assert.equal(out.err, undefined, out.err?.message ?? "");
    assert.deepEqual(out.echoes, ["hi", "there", "!"]);
    const id = String(out.headers?.get("x-session-id")[0]);
    assert.match(id, ID_PATTERN);
    assert.equal((await storage.inner.read(id, { ttlMs: 60_000 }))?.data.said, 3);
  });
});
