import { parseChoice, parseDuration, parseInteger, parseNonEmpty, ValueError } from "../parsers.js";
import { LOG_LEVELS } from "./ServerConfig.js";
import type { AnySetting } from "./Setting.js";

/** Logging, health checks, shutdown and metrics. */
export const OPERATION_SETTINGS: readonly AnySetting[] = [
  {
    name: "LOG_LEVEL",
    key: "logLevel",
    default: "info",
    parse: (raw) => parseChoice(raw, LOG_LEVELS),
    description:
      "Least severe level logged (JSON lines on stderr): info, warn or error. The listening line always shows.",
  },
  {
    name: "HEALTH_CHECK_INTERVAL",
    key: "healthCheckIntervalMs",
    default: "5s",
    parse: (raw) => parseDuration(raw),
    description:
      "How often the storage is pinged; failure turns health NOT_SERVING until it answers (a Redis Cluster stays SERVING while any master answers, and logs the masters that do not: see Running on Redis).",
  },
  {
    name: "SHUTDOWN_GRACE",
    key: "shutdownGraceMs",
    default: "10s",
    parse: (raw) => parseDuration(raw, { allowZero: true }),
    description: "On SIGTERM/SIGINT, how long in-flight calls may take before they are cancelled.",
  },
  {
    name: "SHUTDOWN_DRAIN",
    key: "shutdownDrainMs",
    default: "0",
    parse: (raw) => {
      const ms = parseDuration(raw, { allowZero: true });
      if (ms > 24 * 86_400_000) throw new ValueError("a duration from 0 to 24d");
      return ms;
    },
    description:
      "On SIGTERM/SIGINT, how long health reports NOT_SERVING while calls are still served, before the graceful shutdown starts (Kubernetes: a few seconds, so endpoints drop the pod first).",
  },
  {
    name: "HEALTH_HOST",
    key: "healthHost",
    needs: "HEALTH_PORT",
    default: "127.0.0.1",
    parse: (raw) => parseNonEmpty(raw, "a host name or IP address"),
    description:
      "Address the health-only listener binds, with SESSIOND_HEALTH_PORT (0.0.0.0 for Kubernetes probes, which dial the pod's IP).",
  },
  {
    name: "HEALTH_PORT",
    key: "healthPort",
    parse: (raw) => parseInteger(raw, 0, 65_535),
    defaultText: "no listener",
    description:
      "TCP port of a plaintext listener serving grpc.health.v1 only: liveness (SERVING while the process runs) and '' (the storage-dependent status); 0 picks a free port.",
  },
  {
    name: "METRICS_HOST",
    key: "metricsHost",
    needs: "METRICS_PORT",
    default: "127.0.0.1",
    parse: (raw) => parseNonEmpty(raw, "a host name or IP address"),
    description:
      "Address the Prometheus metrics endpoint listens on, with SESSIOND_METRICS_PORT (it has no authentication).",
  },
  {
    name: "METRICS_PORT",
    key: "metricsPort",
    parse: (raw) => parseInteger(raw, 0, 65_535),
    defaultText: "no endpoint",
    description:
      "TCP port of the Prometheus metrics endpoint, GET /metrics over HTTP; 0 picks a free port.",
  },
];
