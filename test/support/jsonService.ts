// Method definitions with JSON messages, for small grpc-js services that have nothing to do
// with sessiond: the interceptor and the handler wrappers must work in anyone's server.
import type { MethodDefinition } from "@grpc/grpc-js";

export type Json = Record<string, unknown>;

const json = {
  requestSerialize: (v: Json) => Buffer.from(JSON.stringify(v)),
  requestDeserialize: (b: Buffer) => JSON.parse(b.toString()) as Json,
  responseSerialize: (v: Json) => Buffer.from(JSON.stringify(v)),
  responseDeserialize: (b: Buffer) => JSON.parse(b.toString()) as Json,
};

/**
 * The streaming flags are literal types: nice-grpc's createServer().add() reads a grpc-js
 * definition's method kinds from them, and finds no handler type for a plain boolean.
 */
type JsonMethod<In extends boolean, Out extends boolean> = MethodDefinition<Json, Json> & {
  requestStream: In;
  responseStream: Out;
};

/** `/<service>/<name>`, one request and one response. */
export function unaryMethod(service: string, name: string): JsonMethod<false, false> {
  return { path: `/${service}/${name}`, requestStream: false, responseStream: false, ...json };
}

export function serverStreamingMethod(service: string, name: string): JsonMethod<false, true> {
  return { ...unaryMethod(service, name), responseStream: true };
}

export function clientStreamingMethod(service: string, name: string): JsonMethod<true, false> {
  return { ...unaryMethod(service, name), requestStream: true };
}

export function bidiStreamingMethod(service: string, name: string): JsonMethod<true, true> {
  return { ...unaryMethod(service, name), requestStream: true, responseStream: true };
}
