import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import {
  type Client,
  type ClientDuplexStream,
  type ClientWritableStream,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  Server,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerWritableStream,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { reasonOf } from "../../src/client/reasonOf.js";
import { ConfigError } from "../../src/core/ConfigError.js";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { SessionError } from "../../src/core/SessionError.js";
import { Manager } from "../../src/core/session/Manager.js";
import type { Session } from "../../src/core/session/Session.js";
import { bidiStreamingHandler } from "../../src/grpc/bidiStreamingHandler.js";
import { clientStreamingHandler } from "../../src/grpc/clientStreamingHandler.js";
import { getSession } from "../../src/grpc/getSession.js";
import { ServerError } from "../../src/grpc/ServerError.js";
import { serverStreamingHandler } from "../../src/grpc/serverStreamingHandler.js";
import { sessionInterceptor } from "../../src/grpc/sessionInterceptor.js";
import { unaryHandler } from "../../src/grpc/unaryHandler.js";
import { capturingLogger } from "../support/coreFixtures.js";
import { readCountdown } from "../support/countdownStream.js";
import {
  bidiStreamingMethod,
  clientStreamingMethod,
  type Json,
  serverStreamingMethod,
  unaryMethod,
} from "../support/jsonService.js";
import { InstrumentedStorage } from "../support/serviceInstrumentedStorage.js";
import { failed, ok, rawCall, returnedId } from "../support/serviceRawCall.js";
import { bind, shutdown } from "../support/serviceTestServer.js";

// A small service that has nothing to do with sessiond, with JSON messages, to show the
// interceptor works in anyone's grpc-js server.
const unary = (name: string) => unaryMethod("test.Shop", name);
const streaming = (name: string) => serverStreamingMethod("test.Shop", name);
const uploading = (name: string) => clientStreamingMethod("test.Shop", name);
const chatting = (name: string) => bidiStreamingMethod("test.Shop", name);
const ShopService = {
  ping: unary("Ping"),
  addToCart: unary("AddToCart"),
  cart: unary("Cart"),
  sameSession: unary("SameSession"),
  failAfterAwait: unary("FailAfterAwait"),
  refuse: unary("Refuse"),
  writeThenFail: unary("WriteThenFail"),
  untracked: unary("Untracked"),
  countdown: streaming("Countdown"),
  collect: uploading("Collect"),
  chat: chatting("Chat"),
};
const ShopClient = makeGenericClientConstructor(ShopService, "Shop");

const ID_PATTERN = /^[0-9a-z]{32}$/;

describe("sessionInterceptor in an unrelated grpc-js service", () => {
  const storage = new InstrumentedStorage(new MemoryStorage());
  const manager = new Manager({ storage, logger: silentLogger });
  const logger = capturingLogger();
  const ran: Record<string, number> = {};
  const seen: Session[] = [];
  let server: Server;
  let client: Client;

  const count = (name: string) => {
    ran[name] = (ran[name] ?? 0) + 1;
  };
  const h = { logger };

  before(async () => {
    server = new Server({
      interceptors: [
        sessionInterceptor(manager, {
          logger,
          methods: (path) => path !== "/test.Shop/Untracked",
        }),
      ],
    });
    server.addService(ShopService, {
      ping: unaryHandler(async (call) => {
        count("ping");
        return { pong: call.request.n };
      }, h),
      addToCart: unaryHandler(async (call) => {
        count("addToCart");
        const session = getSession(call);
        const cart = ((await session.get("cart")) ?? []) as string[];
        // No commit here: the interceptor commits before the response leaves.
        session.set("cart", [...cart, String(call.request.item)]);
        return { added: call.request.item };
      }, h),
      cart: unaryHandler(async (call) => {
        count("cart");
        return { cart: (await getSession(call).get("cart")) ?? null };
      }, h),
      sameSession: unaryHandler(async (call) => {
        seen.push(getSession(call), getSession(call));
        return {};
      }, h),
      failAfterAwait: unaryHandler(async (call) => {
        count("failAfterAwait");
        await getSession(call).get("cart");
        await new Promise((r) => setTimeout(r, 5));
        throw new Error("bug after an await: /internal/detail");
      }, h),
      refuse: unaryHandler(async () => {
        await Promise.resolve();
        throw new ServerError(status.PERMISSION_DENIED, "not your cart");
      }, h),
      writeThenFail: unaryHandler(async (call) => {
        getSession(call).set("cart", ["should not persist"]);
        await Promise.resolve();
        throw new ServerError(status.FAILED_PRECONDITION, "out of stock");
      }, h),
      untracked: unaryHandler(async (call) => {
        getSession(call);
        return {};
      }, h),
      countdown: serverStreamingHandler(async (call: ServerWritableStream<Json, Json>) => {
        count("countdown");
        const session = getSession(call);
        if (call.request.headersFirst) call.sendMetadata(new Metadata());
        const n = Number(call.request.n);
        for (let i = 0; i < n; i++) {
          session.increment("ticks");
          if (call.request.failAt === i) {
            storage.failure = { error: new SessionError("unavailable", "storage went away") };
          }
          await new Promise<void>((resolve) => call.write({ i }, () => resolve()));
        }
        if (call.request.regenerateAtEnd) await session.regenerate();
      }, h),
      collect: clientStreamingHandler(async (call: ServerReadableStream<Json, Json>) => {
        const session = getSession(call);
        let n = 0;
        for await (const msg of call) session.set(`item${n++}`, String(msg.item));
        return { n };
      }, h),
      chat: bidiStreamingHandler(async (call: ServerDuplexStream<Json, Json>) => {
        const session = getSession(call);
        for await (const msg of call) {
          session.increment("said");
          await new Promise<void>((resolve) => call.write({ echo: msg.text }, () => resolve()));
        }
      }, h),
    });
    const port = await bind(server);
    client = new ShopClient(`127.0.0.1:${port}`, credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await shutdown(server);
    await storage.close();
  });

  beforeEach(() => {
    storage.failure = undefined;
    storage.resetCounts();
  });

  it("a handler that never touches its session causes zero storage calls", async () => {
    const withId = await rawCall<Json>(client, "ping", { n: 1 }, { id: "a".repeat(32) });
    assert.deepEqual(ok(withId), { pong: 1 });
    const withCookie = new Metadata();
    withCookie.set("cookie", `x-session-id=${"b".repeat(32)}`);
    ok(await rawCall(client, "ping", { n: 2 }, { metadata: withCookie }));
    ok(await rawCall(client, "ping", { n: 3 }));
    assert.equal(storage.totalCalls, 0);
    assert.equal(returnedId(withId), undefined);
  });

  it("a handler that writes gets the new id back in response headers, durable", async () => {
    const out = await rawCall<Json>(client, "addToCart", { item: "apple" });
    assert.deepEqual(ok(out), { added: "apple" });
    const id = out.headers?.get("x-session-id")[0];
    assert.equal(typeof id, "string");
    assert.match(String(id), ID_PATTERN);
    // Committed before the response was released: the storage has it now.
    const stored = await storage.inner.read(String(id), { ttlMs: 60_000 });
    assert.deepEqual(stored?.data, { cart: ["apple"] });

    const again = await rawCall<Json>(client, "addToCart", { item: "pear" }, { id: String(id) });
    ok(again);
    assert.equal(returnedId(again), undefined, "an existing session needs no new id");
    const cart = ok(await rawCall<Json>(client, "cart", {}, { id: String(id) }));
    assert.deepEqual(cart, { cart: ["apple", "pear"] });
  });

  it("every write is durable when its response arrives (50 in a row)", async () => {
    const first = await rawCall<Json>(client, "addToCart", { item: "0" });
    const id = String(returnedId(first));
    for (let i = 1; i < 50; i++) {
      ok(await rawCall(client, "addToCart", { item: String(i) }, { id }));
      const stored = await storage.inner.read(id, { ttlMs: 60_000 });
      assert.deepEqual(
        stored?.data.cart,
        Array.from({ length: i + 1 }, (_, j) => String(j)),
      );
    }
  });

  it("reads the id from a cookie when the metadata key is absent", async () => {
    const id = String(returnedId(await rawCall(client, "addToCart", { item: "fig" })));
    const md = new Metadata();
    md.set("cookie", `theme=dark; x-session-id="${id}"; other=1`);
    assert.deepEqual(ok(await rawCall(client, "cart", {}, { metadata: md })), { cart: ["fig"] });
    // The metadata key wins over a cookie.
    const both = new Metadata();
    both.set("cookie", `x-session-id=${"c".repeat(32)}`);
    both.set("x-session-id", id);
    assert.deepEqual(ok(await rawCall(client, "cart", {}, { metadata: both })), { cart: ["fig"] });
    // An empty cookie (how HTTP clears one) means no session.
    const cleared = new Metadata();
    cleared.set("cookie", "x-session-id=");
    assert.deepEqual(ok(await rawCall(client, "cart", {}, { metadata: cleared })), { cart: null });
  });

  it("a malformed id is INVALID_ARGUMENT and the handler never runs", async () => {
    const before = ran.cart ?? 0;
    // The message names which of the caller's headers carried the id.
    failed(
      await rawCall(client, "cart", {}, { id: "../../etc/passwd" }),
      status.INVALID_ARGUMENT,
      /^malformed session id in metadata "x-session-id": must be 32 characters, got 16$/,
    );
    const md = new Metadata();
    md.set("cookie", "x-session-id=../x");
    failed(
      await rawCall(client, "cart", {}, { metadata: md }),
      status.INVALID_ARGUMENT,
      /^malformed session id in cookie "x-session-id": must be 32 characters, got 4$/,
    );
    const two = new Metadata();
    two.add("x-session-id", "a".repeat(32));
    two.add("x-session-id", "b".repeat(32));
    // grpc-js joins repeated entries into one "a, b" header: malformed, never half-used.
    failed(await rawCall(client, "cart", {}, { metadata: two }), status.INVALID_ARGUMENT);
    // Two cookies of the session's name (cookie tossing from a parent domain or path) are
    // refused like two metadata entries, in one header or in two, even when one is empty.
    for (const cookies of [
      [`x-session-id=${"a".repeat(32)}; x-session-id=${"b".repeat(32)}`],
      [`x-session-id=${"a".repeat(32)}`, `theme=dark; x-session-id=${"b".repeat(32)}`],
      [`x-session-id=; x-session-id=${"b".repeat(32)}`],
    ]) {
      const tossed = new Metadata();
      for (const cookie of cookies) tossed.add("cookie", cookie);
      const err = failed(
        await rawCall(client, "cart", {}, { metadata: tossed }),
        status.INVALID_ARGUMENT,
        /more than one "x-session-id" cookie/,
      );
      assert.equal(reasonOf(err)?.reason, "MALFORMED_SESSION_ID");
    }
    assert.equal(ran.cart ?? 0, before, "handler did not run");
    assert.equal(storage.totalCalls, 0, "storage was not asked");
  });

  it("an async handler that throws after an await returns INTERNAL, not a hang", async () => {
    const out = await rawCall(client, "failAfterAwait", {}, { deadlineMs: 2000 });
    const err = failed(out, status.INTERNAL);
    assert.equal(err.details, "internal error", "no detail of the bug on the wire");
    const line = logger.lines.find((l) => /bug after an await/.test(String(l.fields.err)));
    assert.ok(line, "logged");
    assert.match(String(line.fields.stack), /at /);
    assert.equal(line.fields.method, "/test.Shop/FailAfterAwait");
  });

  it("a ServerError thrown after an await keeps its code and message", async () => {
    failed(
      await rawCall(client, "refuse", {}, { deadlineMs: 2000 }),
      status.PERMISSION_DENIED,
      /^not your cart$/,
    );
  });

  it("a failed call drops its uncommitted changes and creates nothing", async () => {
    const out = await rawCall(client, "writeThenFail", {});
    failed(out, status.FAILED_PRECONDITION, /out of stock/);
    assert.equal(returnedId(out), undefined);
    assert.equal(storage.calls.apply, 0);
  });

  it("getSession returns one Session per call, a new one per call", async () => {
    seen.length = 0;
    ok(await rawCall(client, "sameSession", {}));
    ok(await rawCall(client, "sameSession", {}));
    assert.equal(seen.length, 4);
    assert.equal(seen[0], seen[1]);
    assert.notEqual(seen[1], seen[2]);
  });

  it("methods left out by the filter are untouched; getSession there is a clear error", async () => {
    // A malformed id is not even looked at...
    const out = await rawCall(client, "untracked", {}, { id: "../x" });
    // ...and asking for a session there is a programming error: INTERNAL, logged.
    failed(out, status.INTERNAL);
    assert.ok(
      logger.lines.some((l) =>
        /did not pass through sessionInterceptor/.test(String(l.fields.err)),
      ),
    );
  });

  it("a commit that fails turns the response into the mapped status, never OK", async () => {
    const id = String(returnedId(await rawCall(client, "addToCart", { item: "kiwi" })));
    storage.failure = {
      error: new SessionError("unavailable", "storage unreachable", {
        reason: "STORAGE_UNAVAILABLE",
      }),
      only: ["apply"],
    };
    const out = await rawCall(client, "addToCart", { item: "plum" }, { id, deadlineMs: 2000 });
    // The reason travels in the status details from the interceptor's commit too; the
    // storage's own words (an address, a path) go to the log, the caller gets generic ones.
    const unavailable = failed(
      out,
      status.UNAVAILABLE,
      /^storage unavailable: nothing was applied, safe to retry \(the server's log has the details\)$/,
    );
    assert.equal(reasonOf(unavailable)?.reason, "STORAGE_UNAVAILABLE");
    assert.ok(
      logger.lines.some(
        (l) => l.msg === "storage unavailable" && l.fields.err === "storage unreachable",
      ),
      "the full message is logged",
    );
    storage.failure = { error: new Error("disk full /var/x"), only: ["apply"] };
    const fresh = await rawCall(client, "addToCart", { item: "plum" }, { deadlineMs: 2000 });
    const err = failed(fresh, status.INTERNAL);
    assert.equal(err.details, "internal error");
    assert.equal(returnedId(fresh), undefined);
    storage.failure = undefined;
    assert.deepEqual(ok(await rawCall(client, "cart", {}, { id })), { cart: ["kiwi"] });
  });

  describe("server streaming", () => {
    const stream = (req: Json, options: { id?: string } = {}) =>
      readCountdown(client, storage.inner, req, options.id);

    it("commits before each message: a message arrives only after the write before it", async () => {
      const out = await stream({ n: 5 });
      assert.equal(out.error, undefined);
      assert.equal(out.messages.length, 5);
      const id = out.headers?.get("x-session-id")[0];
      assert.match(String(id), ID_PATTERN, "the new id rides in the headers");
      for (const m of out.messages) {
        assert.ok(
          m.storedTicks !== undefined && m.storedTicks >= m.i + 1,
          `message ${m.i} arrived with ${m.storedTicks} ticks stored`,
        );
      }
      const stored = await storage.inner.read(String(id), { ttlMs: 60_000 });
      assert.equal(stored?.data.ticks, 5);
      const next = await stream({ n: 2 }, { id: String(id) });
      assert.equal(next.messages.length, 2);
      assert.equal(
        next.headers?.get("x-session-id").length,
        0,
        "no new id for an existing session",
      );
    });

    it("headers sent before the first write: the new id comes in the trailers", async () => {
      const out = await stream({ n: 2, headersFirst: true });
      assert.equal(out.error, undefined);
      assert.equal(out.headers?.get("x-session-id").length, 0);
      const id = out.trailers?.get("x-session-id")[0];
      assert.match(String(id), ID_PATTERN);
      assert.equal((await storage.inner.read(String(id), { ttlMs: 60_000 }))?.data.ticks, 2);
    });

    it("an id replaced after the headers went out (regenerate) comes in the trailers", async () => {
      const out = await stream({ n: 1, regenerateAtEnd: true });
      assert.equal(out.error, undefined);
      const first = out.headers?.get("x-session-id")[0];
      const last = out.trailers?.get("x-session-id")[0];
      assert.match(String(first), ID_PATTERN);
      assert.match(String(last), ID_PATTERN);
      assert.notEqual(first, last);
      assert.equal((await storage.inner.read(String(last), { ttlMs: 60_000 }))?.data.ticks, 1);
      assert.equal(await storage.inner.read(String(first), { ttlMs: 60_000 }), undefined);
    });

    it("a commit failing mid-stream ends the stream with the mapped status", async () => {
      const out = await stream({ n: 4, failAt: 2 });
      assert.equal(out.messages.length, 2, "messages after the failed commit are not sent");
      assert.equal(out.error?.code, status.UNAVAILABLE);
      assert.match(String(out.error?.details), /^storage unavailable \(the server's log/);
      assert.doesNotMatch(String(out.error?.details), /went away/);
    });
  });

  it("client streaming: the changes are committed before the response, id in headers", async () => {
    const md = new Metadata();
    const out = await new Promise<{ res?: Json; headers?: Metadata; err?: ServiceError }>(
      (resolve) => {
        const result: { res?: Json; headers?: Metadata; err?: ServiceError } = {};
        const call = (
          client as unknown as Record<string, (...a: unknown[]) => ClientWritableStream<Json>>
        ).collect.call(
          client,
          md,
          { deadline: Date.now() + 5000 },
          (err: ServiceError | null, res: Json) => {
            if (err) result.err = err;
            else result.res = res;
          },
        );
        call.on("metadata", (h: Metadata) => {
          result.headers = h;
        });
        call.on("status", () => resolve(result));
        for (const item of ["a", "b", "c"]) call.write({ item });
        call.end();
      },
    );
    assert.equal(out.err, undefined);
    assert.deepEqual(out.res, { n: 3 });
    const id = String(out.headers?.get("x-session-id")[0]);
    assert.match(id, ID_PATTERN);
    const stored = await storage.inner.read(id, { ttlMs: 60_000 });
    assert.deepEqual(stored?.data, { item0: "a", item1: "b", item2: "c" });
  });

  it("bidi streaming: each reply follows the commit of the write before it", async () => {
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
    assert.equal(out.err, undefined);
    assert.deepEqual(out.echoes, ["hi", "there", "!"]);
    const id = String(out.headers?.get("x-session-id")[0]);
    assert.match(id, ID_PATTERN);
    assert.equal((await storage.inner.read(id, { ttlMs: 60_000 }))?.data.said, 3);
  });

  it("refuses a metadata key that cannot carry an id", () => {
    for (const bad of ["X-Session", "session-bin", "grpc-session", "a b", ""]) {
      assert.throws(
        () => sessionInterceptor(manager, { metadataKey: bad }),
        (err: unknown) => err instanceof ConfigError && /metadata key/.test(err.message),
        bad,
      );
    }
  });
});

describe("exposeStorageErrors: the storage's own message reaches the caller", () => {
  it("through the interceptor's commit and the handler wrapper alike", async () => {
    const storage = new InstrumentedStorage(new MemoryStorage());
    const manager = new Manager({ storage, logger: silentLogger });
    const server = new Server({
      interceptors: [sessionInterceptor(manager, { exposeStorageErrors: true })],
    });
    const failure = () =>
      new SessionError("unavailable", "redis unavailable: connect ECONNREFUSED 10.0.0.7:6379", {
        reason: "WRITE_OUTCOME_UNKNOWN",
      });
    server.addService(
      { addToCart: ShopService.addToCart, cart: ShopService.cart },
      {
        addToCart: unaryHandler(async (call) => {
          getSession(call).set("item", call.request.item as string);
          return {};
        }),
        cart: unaryHandler(
          async () => {
            throw failure();
          },
          { exposeStorageErrors: true },
        ),
      },
    );
    const port = await bind(server);
    const client = new ShopClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      storage.failure = { error: failure(), only: ["apply"] };
      const committed = failed(
        await rawCall(client, "addToCart", { item: "x" }),
        status.UNAVAILABLE,
        /^redis unavailable: connect ECONNREFUSED 10\.0\.0\.7:6379$/,
      );
      assert.equal(reasonOf(committed)?.reason, "WRITE_OUTCOME_UNKNOWN");
      storage.failure = undefined;
      failed(await rawCall(client, "cart", {}), status.UNAVAILABLE, /10\.0\.0\.7:6379/);
    } finally {
      client.close();
      await shutdown(server);
      await storage.close();
    }
  });
});

describe("sessionInterceptor with a custom metadata key", () => {
  it("reads and returns the id under that key only", async () => {
    const storage = new MemoryStorage();
    const manager = new Manager({ storage, logger: silentLogger });
    const server = new Server({
      interceptors: [sessionInterceptor(manager, { metadataKey: "x-sid" })],
    });
    server.addService(
      { addToCart: ShopService.addToCart, cart: ShopService.cart },
      {
        addToCart: unaryHandler(async (call) => {
          getSession(call).set("item", call.request.item as string);
          return {};
        }),
        cart: unaryHandler(async (call) => ({
          item: (await getSession(call).get("item")) ?? null,
        })),
      },
    );
    const port = await bind(server);
    const client = new ShopClient(`127.0.0.1:${port}`, credentials.createInsecure());
    try {
      const out = await rawCall(client, "addToCart", { item: "x" });
      const id = out.headers?.get("x-sid")[0];
      assert.match(String(id), ID_PATTERN);
      assert.equal(out.headers?.get("x-session-id").length, 0);
      const read = await rawCall(client, "cart", {}, { id: String(id), key: "x-sid" });
      assert.deepEqual(ok(read), { item: "x" });
      const wrongKey = await rawCall(client, "cart", {}, { id: String(id) });
      assert.deepEqual(ok(wrongKey), { item: null });
    } finally {
      client.close();
      await shutdown(server);
      await storage.close();
    }
  });
});
