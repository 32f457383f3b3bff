// getSession(x) on anything but a grpc-js call that went through sessionInterceptor: the
// error names what it was given and what to do instead. The calls are real ones, from real
// grpc-js and nice-grpc servers on 127.0.0.1, not hand-made look-alikes.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import {
  type Client,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  Server,
  type ServerUnaryCall,
} from "@grpc/grpc-js";
import { type CallContext, createServer, type Server as NiceServer } from "nice-grpc";
import { silentLogger } from "../../src/core/Logger.js";
import { Manager } from "../../src/core/session/Manager.js";
import { getSession } from "../../src/grpc/getSession.js";
import { sessionInterceptor } from "../../src/grpc/sessionInterceptor.js";
import { sessionMiddleware } from "../../src/nice-grpc/sessionMiddleware.js";
import { type Json, unaryMethod } from "../support/jsonService.js";
import { ok, rawCall } from "../support/serviceRawCall.js";
import { bind, shutdown } from "../support/serviceTestServer.js";

const AskService = {
  ask: unaryMethod("test.Ask", "Ask"),
  leftOut: unaryMethod("test.Ask", "LeftOut"),
};
const AskClient = makeGenericClientConstructor(AskService, "Ask");

/** The message getSession throws for `given`, or "no error". */
function whyNot(given: unknown): string {
  try {
    getSession(given as never);
    return "no error";
  } catch (err) {
    return (err as Error).message;
  }
}

/** A unary handler that answers with what getSession said about its call. */
const reportOn = (call: ServerUnaryCall<Json, Json>, cb: (e: null, r: Json) => void) =>
  cb(null, { said: whyNot(call) });

describe("getSession says what is wrong", () => {
  const manager = new Manager({ logger: silentLogger });
  const servers: Server[] = [];
  const nice: NiceServer[] = [];
  const clients: Client[] = [];

  /** Asks `method` of a grpc-js server built with `options`; resolves to what the handler heard. */
  async function askGrpcJs(options: ConstructorParameters<typeof Server>[0], method: string) {
    const server = new Server(options);
    server.addService(AskService, { ask: reportOn, leftOut: reportOn });
    servers.push(server);
    const port = await bind(server);
    const client = new AskClient(`127.0.0.1:${port}`, credentials.createInsecure());
    clients.push(client);
    return String(ok(await rawCall<Json>(client, method, {})).said);
  }

  async function askNiceGrpc(withMiddleware: boolean) {
    const handler = async (_request: Json, context: CallContext) => ({ said: whyNot(context) });
    // use() returns a new server; services go on that one.
    const server = withMiddleware ? createServer().use(sessionMiddleware(manager)) : createServer();
    server.add(AskService, { ask: handler, leftOut: handler });
    nice.push(server);
    const port = await server.listen("127.0.0.1:0");
    const client = new AskClient(`127.0.0.1:${port}`, credentials.createInsecure());
    clients.push(client);
    return String(ok(await rawCall<Json>(client, "ask", {})).said);
  }

  after(async () => {
    for (const client of clients) client.close();
    for (const server of servers) await shutdown(server);
    for (const server of nice) await server.shutdown();
    await manager.close();
  });

  it("nothing at all", () => {
    assert.match(
      whyNot(undefined),
      /^getSession\(\): was given undefined, not a call; pass the handler's call object/,
    );
    assert.match(whyNot(null), /was given null, not a call/);
    assert.match(whyNot("x".repeat(32)), /was given a string, not a call/);
  });

  it("a plain object, or one whose metadata is not grpc-js's", () => {
    assert.match(
      whyNot({ request: {}, peer: "x" }),
      /was given an object without request metadata \(keys: request, peer\), not a grpc-js call/,
    );
    assert.match(whyNot({ metadata: { "x-session-id": "a" } }), /is not a grpc-js Metadata/);
  });

  it("the request Metadata instead of the call", () => {
    assert.match(
      whyNot(new Metadata()),
      /was given a Metadata, not a call; pass the call \(or \{ metadata \}\)/,
    );
  });

  it("a grpc-js call on a server without the interceptor", async () => {
    const said = await askGrpcJs({}, "ask");
    assert.match(
      said,
      /this call \/test\.Ask\/Ask did not pass through sessionInterceptor; add sessionInterceptor\(manager\) to the grpc-js Server's interceptors/,
    );
  });

  it("a grpc-js call whose method the interceptor's methods option leaves out", async () => {
    const interceptor = sessionInterceptor(manager, {
      methods: (path) => path === "/test.Ask/Ask",
    });
    const said = await askGrpcJs({ interceptors: [interceptor] }, "leftOut");
    assert.match(
      said,
      /this call \/test\.Ask\/LeftOut did not pass through sessionInterceptor: its `methods` option leaves this method out/,
    );
    const included = await askGrpcJs({ interceptors: [interceptor] }, "ask");
    assert.equal(included, "no error", "the method the filter keeps has its session");
  });

  it("a nice-grpc CallContext, without and with sessiond/nice-grpc's middleware", async () => {
    assert.match(
      await askNiceGrpc(false),
      /this looks like a nice-grpc CallContext: use sessiond\/nice-grpc's middleware .* and read context\.session/,
    );
    assert.match(
      await askNiceGrpc(true),
      /nice-grpc CallContext that sessiond\/nice-grpc's middleware already gave a session: read context\.session/,
    );
  });
});
