import { Server, ServerCredentials, type ServerInterceptor } from "@grpc/grpc-js";
import type { Logger } from "../../src/core/Logger.js";
import { Manager, type ManagerOptions } from "../../src/core/session/Manager.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import { sessionInterceptor } from "../../src/grpc/sessionInterceptor.js";
import { sessionServiceDefinition } from "../../src/protocol/sessionServiceDefinition.js";
import { sessionServiceImplementation } from "../../src/service/sessionService.js";
import { capturingLogger, type LogLine } from "./coreFixtures.js";
import { InstrumentedStorage } from "./serviceInstrumentedStorage.js";

export interface ServiceTestServer {
  /** host:port on 127.0.0.1 */
  address: string;
  manager: Manager;
  /** The storage the Manager uses: the one passed in, instrumented. */
  storage: InstrumentedStorage;
  logs: LogLine[];
  close(): Promise<void>;
}

export interface ServiceTestServerOptions {
  storage: Storage;
  manager?: Omit<ManagerOptions, "storage" | "logger">;
  metadataKey?: string;
  /** Run before the session interceptor. */
  interceptors?: ServerInterceptor[];
  logger?: Logger;
}

/**
 * A real sessiond SessionService on 127.0.0.1:<free port>, built from the library parts
 * (grpc.Server + sessionInterceptor + sessionServiceImplementation), independent of the
 * server process in src/server.
 */
export async function startServiceTestServer(
  options: ServiceTestServerOptions,
): Promise<ServiceTestServer> {
  const storage = new InstrumentedStorage(options.storage);
  const captured = capturingLogger();
  const logger = options.logger ?? captured;
  const manager = new Manager({ ...options.manager, storage, logger });
  const server = new Server({
    interceptors: [
      ...(options.interceptors ?? []),
      sessionInterceptor(manager, { metadataKey: options.metadataKey }),
    ],
  });
  server.addService(sessionServiceDefinition, sessionServiceImplementation({ logger }));
  const port = await bind(server);
  return {
    address: `127.0.0.1:${port}`,
    manager,
    storage,
    logs: captured.lines,
    close: () => shutdown(server),
  };
}

export function bind(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, port) =>
      err ? reject(err) : resolve(port),
    );
  });
}

export function shutdown(server: Server): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.forceShutdown(), 2000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
