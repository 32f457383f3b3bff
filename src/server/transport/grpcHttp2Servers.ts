import type { Http2Server } from "node:http2";
import type { Server } from "@grpc/grpc-js";

/**
 * The node:http2 servers a bound grpc-js Server listens with. grpc-js keeps them in a
 * private field and has no public hook for connections or streams; this is the one place
 * sessiond reaches in, and it fails loudly at start if a grpc-js upgrade moves the field.
 */
export function grpcHttp2Servers(server: Server): Http2Server[] {
  const servers = (server as unknown as { http2Servers?: unknown }).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    throw new Error(
      "grpc-js Server has no http2Servers map after bind: the transport limits cannot be applied (grpc-js changed?)",
    );
  }
  return [...servers.keys()] as Http2Server[];
}
