import {
  type Server,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import {
  decodeCheckRequest,
  encodeCheckRequest,
  encodeCheckResponse,
  encodeListResponse,
  type ServingStatus,
} from "./healthWire.js";

export type { ServingStatus } from "./healthWire.js";

/** The statuses grpc.health.v1.Health answers with; HealthMonitor sets them. */
export interface Health {
  setStatus(service: string, status: ServingStatus): void;
}

export interface ServedHealth {
  health: Health;
  /** Ends every open Watch stream (after its last status went out). */
  endWatches(): void;
}

type Request = { service: string };
const raw = (bytes: Uint8Array) => Buffer.from(bytes);

function method(name: string, responseStream: boolean) {
  return {
    path: `/grpc.health.v1.Health/${name}`,
    requestStream: false,
    responseStream,
    requestSerialize: (request: Request) => raw(encodeCheckRequest(request)),
    requestDeserialize: (bytes: Buffer) => decodeCheckRequest(bytes),
    // Responses are encoded by the handlers: the definition passes the bytes through.
    responseSerialize: (bytes: Uint8Array) => raw(bytes),
    responseDeserialize: (bytes: Buffer) => bytes,
  };
}

const HEALTH_DEFINITION = {
  check: method("Check", false),
  watch: method("Watch", true),
  list: method("List", false),
} satisfies ServiceDefinition;

/** grpc-health-check's bound on List, kept: a list is a snapshot, not a scan. */
const MAX_LISTED = 100;

/**
 * Adds grpc.health.v1.Health (Check, Watch, List) to `server`, with the statuses in
 * `initial`. Check of an unknown service is NOT_FOUND; Watch sends the current status
 * (SERVICE_UNKNOWN when unknown) and every change after it. Open Watch streams are tracked:
 * a Watch never ends by itself, so without endWatches() a single watching load balancer
 * would hold a graceful shutdown for the whole grace period.
 */
export function addHealth(
  server: Server,
  initial: Readonly<Record<string, ServingStatus>>,
): ServedHealth {
  const statuses = new Map<string, ServingStatus>(Object.entries(initial));
  const watchers = new Map<string, Set<ServerWritableStream<Request, Uint8Array>>>();
  const health: Health = {
    setStatus(service, next) {
      statuses.set(service, next);
      for (const call of watchers.get(service) ?? []) call.write(encodeCheckResponse(next));
    },
  };
  server.addService(HEALTH_DEFINITION, {
    check(call: ServerUnaryCall<Request, Uint8Array>, callback: sendUnaryData<Uint8Array>) {
      const known = statuses.get(call.request.service);
      if (known === undefined) {
        callback({
          code: status.NOT_FOUND,
          details: `Health status unknown for service ${call.request.service}`,
        });
      } else {
        callback(null, encodeCheckResponse(known));
      }
    },
    watch(call: ServerWritableStream<Request, Uint8Array>) {
      const { service } = call.request;
      const set = watchers.get(service) ?? new Set();
      watchers.set(service, set);
      set.add(call);
      call.on("cancelled", () => set.delete(call));
      call.write(encodeCheckResponse(statuses.get(service) ?? "SERVICE_UNKNOWN"));
    },
    list(_call: ServerUnaryCall<Request, Uint8Array>, callback: sendUnaryData<Uint8Array>) {
      if (statuses.size > MAX_LISTED) {
        callback({ code: status.RESOURCE_EXHAUSTED, details: "Too many services to list." });
      } else {
        callback(null, encodeListResponse(statuses));
      }
    },
  });
  return {
    health,
    endWatches() {
      for (const set of watchers.values()) for (const call of set) call.end();
      watchers.clear();
    },
  };
}
