import { Server, ServerCredentials } from "@grpc/grpc-js";
import type { Logger } from "../../core/Logger.js";
import { TransportGuard } from "../transport/TransportGuard.js";
import { addHealth, type Health } from "./addHealth.js";

/** The service name that is SERVING for as long as the process runs (a liveness probe's). */
export const LIVENESS_SERVICE = "liveness";

export interface HealthPortOptions {
  host: string;
  port: number;
  /** Names whose status follows the storage, like on the main port ('' included). */
  readiness: readonly string[];
  handshakeTimeoutMs: number;
  logger: Logger;
}

export interface HealthPort {
  /** The bound port (the real one when asked for 0). */
  port: number;
  /** Statuses of the readiness names (HealthMonitor sets them with the main port's). */
  health: Health;
  /** Ends Watch streams and closes the listener; `liveness` stops answering with it. */
  close(): Promise<void>;
}

/**
 * A plaintext listener serving grpc.health.v1 only, for probes that cannot speak TLS or
 * present a token (Kubernetes' gRPC probes): `liveness` is SERVING while the process runs,
 * whatever the storage; '' and the readiness names follow the storage. It carries no
 * session data and no other service, and its transport is kept small: a few connections,
 * few streams, short idle timeout, tiny messages.
 */
export async function serveHealthPort(options: HealthPortOptions): Promise<HealthPort> {
  const server = new Server({
    "grpc.max_concurrent_streams": 4,
    "grpc.max_receive_message_length": 1024,
    "grpc-node.max_session_memory": 1,
  });
  const guard = new TransportGuard({
    maxConnections: 16,
    maxConnectionsPerPeer: 16,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    connectionIdleTimeoutMs: 60_000,
    maxConnectionAgeGraceMs: 1000,
    requestReceiveTimeoutMs: 5000,
    maxConnectionOutboundBytes: 64 * 1024,
    streamingRequestPaths: new Set(),
    logger: options.logger,
  });
  const initial: Record<string, "SERVING" | "NOT_SERVING"> = { [LIVENESS_SERVICE]: "SERVING" };
  for (const name of options.readiness) initial[name] = "NOT_SERVING";
  const { health, endWatches } = addHealth(server, initial, options.logger);
  const host =
    options.host.includes(":") && !options.host.startsWith("[")
      ? `[${options.host}]`
      : options.host;
  let port: number;
  try {
    port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        `${host}:${options.port}`,
        ServerCredentials.createInsecure(),
        (err, bound) => (err ? reject(err) : resolve(bound)),
      ),
    );
  } catch (err) {
    server.forceShutdown();
    guard.close();
    const message = err instanceof Error ? err.message : String(err);
    throw new Error(
      `SESSIOND_HEALTH_PORT (--health-port): cannot listen on ${options.host}:${options.port}: ${message}`,
      { cause: err },
    );
  }
  guard.attach(server);
  let closing: Promise<void> | undefined;
  return {
    port,
    health,
    close() {
      closing ??= (async () => {
        endWatches();
        await guard.retireAll(1000);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            server.forceShutdown();
            resolve();
          }, 2000);
          server.tryShutdown(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        guard.close();
      })();
      return closing;
    },
  };
}
