import type { ServerInterceptor } from "@grpc/grpc-js";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import type { Storage } from "../../core/storage/Storage.js";
import { packageVersion } from "../version.js";
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

function counter<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[] = [],
): Counter<L> {
  return new Counter({ name, help, labelNames, registers: [registry] });
}

function histogram<L extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly L[],
): Histogram<L> {
  return new Histogram({ name, help, labelNames, buckets: LATENCY_BUCKETS, registers: [registry] });
}

/**
 * One server's metrics, in a registry of its own (not prom-client's global one), so that
 * two servers in one process count apart. Loaded with `await import` only when
 * SESSIOND_METRICS_PORT is set: a server without metrics never loads prom-client.
 * docs/operations.md, "Metrics", lists every name and label.
 */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly grpcHandled = counter(
    this.registry,
    "sessiond_grpc_server_handled_total",
    "gRPC calls completed, by service, method and status code (a call cancelled by its client, or ended by grpc-js below the interceptors, counts as CANCELLED or DEADLINE_EXCEEDED).",
    ["service", "method", "code"],
  );
  readonly grpcHandling = histogram(
    this.registry,
    "sessiond_grpc_server_handling_seconds",
    "Time from a gRPC call's request headers to its status, by service and method.",
    ["service", "method"],
  );
  readonly storageCalls = counter(
    this.registry,
    "sessiond_storage_calls_total",
    "Storage calls, by storage kind and method (ping included: the health check pings every SESSIOND_HEALTH_CHECK_INTERVAL).",
    ["storage", "method"],
  );
  readonly storageErrors = counter(
    this.registry,
    "sessiond_storage_errors_total",
    "Storage calls that failed, by storage kind, method and error code (unavailable: the backend; aborted, resource_exhausted, failed_precondition, already_exists: refusals of the request).",
    ["storage", "method", "code"],
  );
  readonly storageDuration = histogram(
    this.registry,
    "sessiond_storage_call_duration_seconds",
    "Time a storage call took, failed ones included, by storage kind and method.",
    ["storage", "method"],
  );
  readonly sessionsCreated = counter(
    this.registry,
    "sessiond_sessions_created_total",
    "Sessions created: writes that left a session at version 1 (retries answered from a request record not counted).",
  );
  readonly sessionsDestroyed = counter(
    this.registry,
    "sessiond_sessions_destroyed_total",
    "Session destroys (RemoveAll) the storage carried out, whether or not the session existed.",
  );
  readonly sessionsRegenerated = counter(
    this.registry,
    "sessiond_sessions_regenerated_total",
    "Sessions moved to a new id (Regenerate) by the storage.",
  );
  readonly versionConflicts = counter(
    this.registry,
    "sessiond_version_conflicts_total",
    "Writes with an expected version that the storage refused with ABORTED because the session was at another version.",
  );
  readonly interceptor: ServerInterceptor;

  readonly #host: string;
  readonly #port: number;

  /** `host` and `port`: where serve() listens (port 0: a free one). */
  constructor(host: string, port: number) {
    this.#host = host;
    this.#port = port;
    collectDefaultMetrics({ register: this.registry });
    // The usual build_info idiom: always 1, the labels carry the facts (join on them in queries).
    new Gauge({
      name: "sessiond_build_info",
      help: "Always 1; the labels say which sessiond version and which Node.js version run.",
      labelNames: ["version", "node"],
      registers: [this.registry],
    }).set({ version: packageVersion(), node: process.version }, 1);
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
