import {
  type Server,
  type ServerUnaryCall,
  type ServerWritableStream,
  type ServiceDefinition,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../../core/Logger.js";
import { ServerError } from "../../grpc/ServerError.js";
import { serverStreamingHandler } from "../../grpc/serverStreamingHandler.js";
import { unaryHandler } from "../../grpc/unaryHandler.js";
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
  /** Open Watch calls, and the distinct service names they watch (what they hold). */
  watching(): { calls: number; names: number };
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
 * Longest service name asked about, in UTF-8 bytes. Names are fully-qualified protobuf
 * service names ("sessiond.v1.SessionService" is 26 bytes; long real ones stay under 100),
 * so 256 refuses no real caller while bounding what one Watch holds for its whole life to a
 * few hundred bytes; without it a caller could park up to 4 MiB (grpc-js's largest message)
 * per Watch.
 */
export const MAX_SERVICE_NAME_BYTES = 256;

interface Watcher {
  call: ServerWritableStream<Request, Uint8Array>;
  /** Ends the call with OK (the handler's promise resolves). */
  end(): void;
}

/**
 * Adds grpc.health.v1.Health (Check, Watch, List) to `server`, with the statuses in
 * `initial`. Check of an unknown service is NOT_FOUND; Watch sends the current status
 * (SERVICE_UNKNOWN when unknown) and every change after it. A service name longer than
 * MAX_SERVICE_NAME_BYTES is INVALID_ARGUMENT, and no message echoes a name. Open Watch
 * streams are tracked, and forgotten as soon as their call ends however it ends: a Watch
 * never ends by itself, so without endWatches() a single watching load balancer would hold
 * a graceful shutdown for the whole grace period.
 */
export function addHealth(
  server: Server,
  initial: Readonly<Record<string, ServingStatus>>,
  logger?: Logger,
): ServedHealth {
  // An unexpected error in a handler is logged where the server logs, not on bare stderr.
  const handlers = { logger };
  const statuses = new Map<string, ServingStatus>(Object.entries(initial));
  const watchers = new Map<string, Set<Watcher>>();
  let calls = 0;
  const forget = (service: string, watcher: Watcher) => {
    const set = watchers.get(service);
    if (set?.delete(watcher) !== true) return;
    calls--;
    // An empty set left behind would keep the caller's name for the life of the process.
    if (set.size === 0) watchers.delete(service);
  };
  const health: Health = {
    setStatus(service, next) {
      statuses.set(service, next);
      for (const { call } of watchers.get(service) ?? []) call.write(encodeCheckResponse(next));
    },
  };
  server.addService(HEALTH_DEFINITION, {
    check: unaryHandler((call: ServerUnaryCall<Request, Uint8Array>) => {
      const known = statuses.get(checkedName(call.request));
      if (known === undefined) {
        throw new ServerError(status.NOT_FOUND, "no health status is set for this service");
      }
      return encodeCheckResponse(known);
    }, handlers),
    watch: serverStreamingHandler(
      (call: ServerWritableStream<Request, Uint8Array>) =>
        new Promise<void>((resolve) => {
          const service = checkedName(call.request);
          const watcher: Watcher = {
            call,
            end: () => {
              forget(service, watcher);
              resolve();
            },
          };
          const set = watchers.get(service) ?? new Set();
          watchers.set(service, set);
          set.add(watcher);
          calls++;
          // grpc-js reports every finished call as cancelled; 'finish' and 'error' come first
          // when the server ends it. Unresolved, the promise is collected with the watcher.
          const gone = () => forget(service, watcher);
          call.once("cancelled", gone);
          call.once("finish", gone);
          call.once("error", gone);
          call.write(encodeCheckResponse(statuses.get(service) ?? "SERVICE_UNKNOWN"));
        }),
      handlers,
    ),
    list: unaryHandler(() => {
      if (statuses.size > MAX_LISTED) {
        throw new ServerError(status.RESOURCE_EXHAUSTED, "Too many services to list.");
      }
      return encodeListResponse(statuses);
    }, handlers),
  });
  return {
    health,
    endWatches() {
      for (const set of [...watchers.values()]) for (const watcher of set) watcher.end();
    },
    watching: () => ({ calls, names: watchers.size }),
  };
}

/** The request's service name, refused (without echoing it) past MAX_SERVICE_NAME_BYTES. */
function checkedName({ service }: Request): string {
  if (Buffer.byteLength(service) > MAX_SERVICE_NAME_BYTES) {
    throw new ServerError(
      status.INVALID_ARGUMENT,
      `service name longer than ${MAX_SERVICE_NAME_BYTES} bytes`,
    );
  }
  return service;
}
