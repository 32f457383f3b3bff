// The transport limit: grpc-js serving the same SessionService proto, every handler
// answering a constant. Everything sessiond adds is measured against this process.
import { Server, ServerCredentials, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { SessionServiceService } from "../../src/gen/sessiond/v1/session.js";
import { announceReady } from "./readyLine.js";

const constant = {
  get: { value: "v", found: true },
  getData: { data: { k0: "v" } },
  contains: { found: true },
  size: { size: 1 },
  set: { sessionId: "", version: 1n },
  setMap: { sessionId: "", version: 1n },
  remove: { version: 1n },
  removeAll: {},
  touch: { expireTime: new Date(0) },
  regenerate: { sessionId: "", version: 1n },
  describe: { sessionId: "", version: 1n, size: 1 },
  increment: { sessionId: "", version: 1n, value: 1 },
} as const;

const handlers: UntypedServiceImplementation = {};
for (const [name, response] of Object.entries(constant)) {
  handlers[name] = (_call: unknown, callback: (err: null, value: unknown) => void) =>
    callback(null, response);
}

const server = new Server();
server.addService(SessionServiceService, handlers);
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  announceReady({ port, pid: process.pid });
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
