// The transport limit: grpc-js serving the same SessionService proto, every handler
// answering a constant. Everything sessiond adds is measured against this process.
import {
  Server,
  ServerCredentials,
  ServerInterceptingCall,
  type ServerInterceptor,
  type ServerUnaryCall,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import {
  type GetRequest,
  type GetResponse,
  SessionServiceService,
} from "../../src/gen/sessiond/v1/session.js";
import { SAMPLES_PER_SHAPE, type SampleSession, sessionData, shapeOf } from "./population.js";
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

// BENCH_INTERCEPTOR puts an interceptor in front of the constant handlers, to show what the
// interception itself costs: "passthrough" (bench --breakdown only) is the least a grpc-js
// interceptor can be; "session" is sessiond's, over an empty memory storage, never asked for
// the session; "read" is sessiond's over a memory storage holding BENCH_SESSIONS sessions,
// and Get a library user's handler (unaryHandler, getSession) reading the key asked for.
const samples: SampleSession[] = [];
async function interceptors(): Promise<ServerInterceptor[]> {
  const which = process.env.BENCH_INTERCEPTOR;
  if (which === "passthrough") return [(_method, call) => new ServerInterceptingCall(call)];
  if (which === "session" || which === "read") {
    const { Manager } = await import("../../src/core/session/Manager.js");
    const { MemoryStorage } = await import("../../src/core/memory/MemoryStorage.js");
    const { sessionInterceptor } = await import("../../src/grpc/sessionInterceptor.js");
    const { silentLogger } = await import("../../src/core/Logger.js");
    const manager = new Manager({ storage: new MemoryStorage(), logger: silentLogger });
    if (which === "read") {
      const { getSession } = await import("../../src/grpc/getSession.js");
      const { unaryHandler } = await import("../../src/grpc/unaryHandler.js");
      const sessions = Number(process.env.BENCH_SESSIONS ?? "1000");
      for (let index = 0; index < sessions; index++) {
        const session = manager.session();
        session.setMap(sessionData(index, shapeOf(index)));
        await session.commit();
        if (index < 2 * SAMPLES_PER_SHAPE) {
          samples.push({ id: session.id as string, index, shape: shapeOf(index) });
        }
      }
      handlers.get = unaryHandler(async (call: ServerUnaryCall<GetRequest, GetResponse>) => {
        const value = await getSession(call).get(call.request.key);
        return { value, found: value !== undefined };
      });
    }
    return [sessionInterceptor(manager, { logger: silentLogger })];
  }
  return [];
}

// BENCH_RAW_REDIS (bench --breakdown only): Get answers from one auto-pipelined HMGET +
// PEXPIRE on plain ioredis, no sessiond code: what a Redis round trip costs by itself.
if (process.env.BENCH_RAW_REDIS) {
  const { Redis } = await import("ioredis");
  const redis = new Redis(process.env.BENCH_RAW_REDIS, { enableAutoPipelining: true });
  await redis.hset("raw:{bench}", "", "1 1 1", "k2", JSON.stringify("x".repeat(36)));
  handlers.get = (_call: unknown, callback: (err: Error | null, value?: unknown) => void) => {
    Promise.all([redis.hmget("raw:{bench}", "", "k2"), redis.pexpire("raw:{bench}", 86_400_000)])
      .then(([values]) => callback(null, { value: JSON.parse(values[1] as string), found: true }))
      .catch((err: Error) => callback(err));
  };
}

// BENCH_STORAGE_REDIS (bench --breakdown only): Get answers from sessiond's redis-hash
// storage.readKey directly: no interceptor, Session or handler wrapper.
if (process.env.BENCH_STORAGE_REDIS) {
  const { createRedisStorage } = await import("../../src/redis/createRedisStorage.js");
  const { silentLogger } = await import("../../src/core/Logger.js");
  const storage = createRedisStorage(
    "redis-hash",
    { url: process.env.BENCH_STORAGE_REDIS, prefix: "rawstorage:", ids: "raw" },
    silentLogger,
  );
  const id = "0123456789abcdefghijklmnopqrstuv";
  const { resolveLimits } = await import("../../src/core/Limits.js");
  await storage.apply(
    id,
    { ops: [{ type: "set", key: "k2", value: "x".repeat(36) }] },
    { ttlMs: 86_400_000, limits: resolveLimits(), mode: "upsert" },
  );
  const expiry = { ttlMs: 86_400_000 };
  handlers.get = (_call: unknown, callback: (err: Error | null, value?: unknown) => void) => {
    storage
      .readKey(id, "k2", expiry)
      .then((read) => callback(null, { value: read?.value, found: read?.found ?? false }))
      .catch((err: Error) => callback(err));
  };
}

const server = new Server({ interceptors: await interceptors() });
server.addService(SessionServiceService, handlers);
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  announceReady({ port, pid: process.pid, samples });
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
