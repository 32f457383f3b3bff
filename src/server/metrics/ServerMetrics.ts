import type { ServerInterceptor } from "@grpc/grpc-js";
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type { Storage } from "../../core/storage/Storage.js";
import { MeteredStorage } from "./MeteredStorage.js";
import { metricsInterceptor } from "./metricsInterceptor.js";
import { type MetricsEndpoint, serveMetrics } from "./serveMetrics.js";
import { addStorageGauges } from "./storageGauges.js";

/**
 * Buckets in seconds. Most calls on the memory and file storages take well under a
 * millisecond, Redis ones a few: Prometheus' defaults (5 ms up) would put nearly all of
 * them in the first bucket.
 */
const LATENCY_BUCKETS = [
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/**
 * One server's metrics, in a registry of its own (not prom-client's global one), so that
 * two servers in one process count apart. Loaded with `await import` only when
 * SESSIOND_METRICS_PORT is set: a server without metrics never loads prom-client.
 * README "Metrics" lists every name and label.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly grpcHandled = new Counter({
    name: "sessiond_grpc_server_handled_total",
    help: "gRPC calls completed, by service, method and status code (a call cancelled by its client, or ended by grpc-js below the interceptors, counts as CANCELLED or DEADLINE_EXCEEDED).",
    labelNames: ["service", "method", "code"] as const,
    registers: [this.registry],
  });
  readonly grpcHandling = new Histogram({
    name: "sessiond_grpc_server_handling_seconds",
    help: "Time from a gRPC call's request headers to its status, by service and method.",
    labelNames: ["service", "method"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly storageCalls = new Counter({
    name: "sessiond_storage_calls_total",
    help: "Storage calls, by storage kind and method (ping included: the health check pings every SESSIOND_HEALTH_CHECK_INTERVAL).",
    labelNames: ["storage", "method"] as const,
    registers: [this.registry],
  });
  readonly storageErrors = new Counter({
    name: "sessiond_storage_errors_total",
    help: "Storage calls that failed, by storage kind, method and error code (unavailable: the backend; aborted, resource_exhausted, failed_precondition, already_exists: refusals of the request).",
    labelNames: ["storage", "method", "code"] as const,
    registers: [this.registry],
  });
  readonly storageDuration = new Histogram({
    name: "sessiond_storage_call_duration_seconds",
    help: "Time a storage call took, failed ones included, by storage kind and method.",
    labelNames: ["storage", "method"] as const,
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });
  readonly sessionsCreated = new Counter({
    name: "sessiond_sessions_created_total",
    help: "Sessions created: writes that left a session at version 1 (retries answered from a request record not counted).",
    registers: [this.registry],
  });
  readonly sessionsDestroyed = new Counter({
    name: "sessiond_sessions_destroyed_total",
    help: "Session destroys (RemoveAll) the storage carried out, whether or not the session existed.",
    registers: [this.registry],
  });
  readonly sessionsRegenerated = new Counter({
    name: "sessiond_sessions_regenerated_total",
    help: "Sessions moved to a new id (Regenerate) by the storage.",
    registers: [this.registry],
  });
  readonly versionConflicts = new Counter({
    name: "sessiond_version_conflicts_total",
    help: "Writes with an expected version that the storage refused with ABORTED because the session was at another version.",
    registers: [this.registry],
  });
  readonly interceptor: ServerInterceptor;

  readonly #host: string;
  readonly #port: number;

  /** `host` and `port`: where serve() listens (port 0: a free one). */
  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
    collectDefaultMetrics({ register: this.registry });
    this.interceptor = metricsInterceptor(this);
  }

  /** `storage`, measured: every call goes through a MeteredStorage; gauges read it at scrape. */
  meter(storage: Storage, kind: string): Storage {
    addStorageGauges(this.registry, storage);
    return new MeteredStorage(storage, kind, this);
  }

  /** GET /metrics on the host and port given to the constructor. */
  serve(): Promise<MetricsEndpoint> {
    return serveMetrics(this.registry, this.#host, this.#port);
  }
}
