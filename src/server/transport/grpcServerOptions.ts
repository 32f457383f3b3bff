import type { ServerOptions } from "@grpc/grpc-js";
import type { ServerConfig } from "../config/ServerConfig.js";

const MIB = 1024 * 1024;

/**
 * The transport limits grpc-js enforces itself. Without them it advertises 2^32-1
 * concurrent streams and never pings. Idle timeout and connection age are TransportGuard's:
 * grpc-js ends those connections with session.close(), unsafe on Node 20 (see there), and
 * its close never completes on a client that reads nothing.
 */
export function grpcServerOptions(config: ServerConfig): ServerOptions {
  return {
    "grpc.max_concurrent_streams": config.maxConcurrentStreams,
    "grpc.keepalive_time_ms": config.keepaliveTimeMs,
    "grpc.keepalive_timeout_ms": config.keepaliveTimeoutMs,
    // Node's per-connection memory cap (whole MiB) counts queued response bytes and refuses
    // new streams past it; TransportGuard closes the connection at the byte limit itself.
    "grpc-node.max_session_memory": Math.ceil(config.maxConnectionOutboundBytes / MIB) + 1,
  };
}
