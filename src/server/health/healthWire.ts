import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";

/**
 * Wire encoding of grpc.health.v1's messages (HealthCheckRequest, HealthCheckResponse,
 * HealthListResponse). Hand-written like the reflection messages: three tiny messages do not
 * justify a generated runtime, and it keeps protobufjs and a .proto file read at run time
 * out of the server (so it installs small and bundles).
 */

export const SERVING_STATUSES = ["UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN"] as const;
export type ServingStatus = (typeof SERVING_STATUSES)[number];

/** HealthCheckRequest: `string service = 1`. Other fields are skipped, as every server does. */
export function decodeCheckRequest(bytes: Uint8Array): { service: string } {
  const reader = new BinaryReader(bytes);
  let service = "";
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) service = reader.string();
    else reader.skip(wireType, field);
  }
  return { service };
}

export function encodeCheckRequest({ service }: { service: string }): Uint8Array {
  return new BinaryWriter().uint32(10).string(service).finish();
}

/** HealthCheckResponse: `ServingStatus status = 1`. */
export function encodeCheckResponse(status: ServingStatus): Uint8Array {
  return new BinaryWriter().uint32(8).int32(SERVING_STATUSES.indexOf(status)).finish();
}

/** HealthListResponse: `map<string, HealthCheckResponse> statuses = 1`. */
export function encodeListResponse(statuses: ReadonlyMap<string, ServingStatus>): Uint8Array {
  const writer = new BinaryWriter();
  for (const [service, status] of statuses) {
    writer.uint32(10).fork();
    writer.uint32(10).string(service);
    writer.uint32(18).bytes(encodeCheckResponse(status));
    writer.join();
  }
  return writer.finish();
}
