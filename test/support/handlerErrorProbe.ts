// Run as a child process: a grpc-js server whose unary handler (through unaryHandler, with
// no logger and no interceptor) calls getSession, then throws a bug of its own on a second
// method. Calls both, prints their status codes on stdout as JSON, and exits; whatever the
// library logs by default is on its stderr.
import { credentials, makeGenericClientConstructor, Server } from "@grpc/grpc-js";
import { getSession } from "../../src/grpc/getSession.js";
import { unaryHandler } from "../../src/grpc/unaryHandler.js";
import { unaryMethod } from "./jsonService.js";
import { rawCall } from "./serviceRawCall.js";
import { bind, shutdown } from "./serviceTestServer.js";

const Probe = {
  noInterceptor: unaryMethod("test.Probe", "NoInterceptor"),
  bug: unaryMethod("test.Probe", "Bug"),
};
const server = new Server();
server.addService(Probe, {
  noInterceptor: unaryHandler((call) => {
    getSession(call);
    return {};
  }),
  bug: unaryHandler(async () => {
    await Promise.resolve();
    throw new TypeError("a bug in the handler");
  }),
});
const port = await bind(server);
const client = new (makeGenericClientConstructor(Probe, "Probe"))(
  `127.0.0.1:${port}`,
  credentials.createInsecure(),
);
const codes = {
  noInterceptor: (await rawCall(client, "noInterceptor", {})).error?.code,
  bug: (await rawCall(client, "bug", {})).error?.code,
};
client.close();
await shutdown(server);
process.stdout.write(`${JSON.stringify(codes)}\n`);
