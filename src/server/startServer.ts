import { Server, type ServerCredentials } from "@grpc/grpc-js";
import { type Logger, silentLogger } from "../core/Logger.js";
import { Manager } from "../core/session/Manager.js";
import type { Storage } from "../core/storage/Storage.js";
import { sessionInterceptor } from "../grpc/sessionInterceptor.js";
import { sessionServiceDefinition } from "../protocol/sessionServiceDefinition.js";
import { sessionServiceImplementation } from "../service/sessionService.js";
import { LIMIT_NAMES } from "./config/limitNames.js";
import { resolveConfig } from "./config/resolveConfig.js";
import type { ServerConfig } from "./config/ServerConfig.js";
import { createStorage } from "./createStorage.js";
import { addHealth, type Health } from "./health/addHealth.js";
import { HealthMonitor } from "./health/HealthMonitor.js";
import { type HealthPort, serveHealthPort } from "./health/serveHealthPort.js";
import type { ServerMetrics } from "./metrics/ServerMetrics.js";
import type { MetricsEndpoint } from "./metrics/serveMetrics.js";
import { addReflection, REFLECTION_SERVICES } from "./reflection/addReflection.js";
import { CallerSecurity } from "./security/CallerSecurity.js";
import { securityWarnings } from "./security/checkSecurityCombinations.js";
import { grpcHttp2Servers } from "./transport/grpcHttp2Servers.js";
import { grpcServerOptions } from "./transport/grpcServerOptions.js";
import { keepRepeatedAuthorization } from "./transport/keepRepeatedAuthorization.js";
import { TransportGuard } from "./transport/TransportGuard.js";

export const SESSION_SERVICE_NAME = "sessiond.v1.SessionService";
export const HEALTH_SERVICE_NAME = "grpc.health.v1.Health";

export interface StartOptions {
  logger?: Logger;
  /**
   * Use this storage instead of the one the config names. It stays the caller's: shutdown()
   * does not close it.
   */
  storage?: Storage;
}

export interface RunningServer {
  /** The bound port (the real one when config.port was 0). */
  port: number;
  /** host:port as a client would dial it ([::1]:port for IPv6). */
  address: string;
  manager: Manager;
  /** Health statuses; '' and sessiond.v1.SessionService follow storage.ping(). */
  health: Health;
  server: Server;
  config: ServerConfig;
  /** True when reflection is served (config.reflection, "auto" decided by the host). */
  reflection: boolean;
  /**
   * The bound port of the Prometheus endpoint (GET /metrics; the real one when
   * config.metricsPort was 0), or undefined when metrics are off.
   */
  metricsPort: number | undefined;
  /**
   * The bound port of the plaintext health-only listener (config.healthPort; `liveness` is
   * SERVING there while the process runs), or undefined when there is none.
   */
  healthPort: number | undefined;
  /**
   * Stops the storage checks and pins the health statuses that follow the storage to
   * NOT_SERVING, while calls are still served: the drain before a shutdown (main.ts waits
   * config.shutdownDrainMs between this and shutdown()). `liveness` stays SERVING.
   */
  stopServing(): void;
  /**
   * Re-reads the TLS and tokens files now (they are also re-read when they change; main.ts
   * calls this on SIGHUP). What fails to load is logged and the previous one stays.
   */
  reload(): Promise<void>;
  /**
   * Stops accepting calls, lets in-flight ones finish for up to `graceMs` (default
   * config.shutdownGraceMs) then cancels the rest, and closes the storage it created.
   * Idempotent: later calls return the same promise.
   */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Builds storage, Manager, server (SessionService behind the caller check and the session
 * interceptor, grpc.health.v1.Health, reflection v1 and v1alpha unless turned off) and
 * listens, over TLS when a certificate is configured; with config.metricsPort, also serves
 * Prometheus metrics of the calls and the storage over HTTP. Resolves once the port is
 * bound and the first storage ping has set the health status. `config` may be partial:
 * missing settings take their defaults.
 */
export async function startServer(
  config: Partial<ServerConfig> = {},
  options: StartOptions = {},
): Promise<RunningServer> {
  const settings = resolveConfig(config);
  const logger = options.logger ?? silentLogger;
  for (const warning of securityWarnings(settings)) logger.warn(warning);
  // Holds nothing until attach(); made first so that the caller check can tell it which
  // connections have a proven caller.
  const guard = new TransportGuard({
    maxConnections: settings.maxConnections,
    maxConnectionsPerPeer:
      settings.maxConnectionsPerPeer === "auto" ? undefined : settings.maxConnectionsPerPeer,
    handshakeTimeoutMs: settings.handshakeTimeoutMs,
    connectionIdleTimeoutMs: settings.connectionIdleTimeoutMs,
    idleUnlessAuthenticated: settings.authTokensFile !== undefined,
    maxConnectionAgeMs: settings.maxConnectionAgeMs,
    maxConnectionAgeGraceMs: settings.maxConnectionAgeGraceMs,
    requestReceiveTimeoutMs: settings.requestReceiveTimeoutMs,
    maxConnectionOutboundBytes: settings.maxConnectionOutboundBytes,
    streamingRequestPaths: streamingRequestPaths(),
    logger,
  });
  // Before the storage: a bad certificate or tokens file must not cost a storage connection.
  const security = await CallerSecurity.create(settings, logger, {
    onAccepted: (connection) => guard.markAuthenticated(connection),
  });
  const ownsStorage = options.storage === undefined;
  let storage: Storage;
  try {
    storage = options.storage ?? (await createStorage(settings, logger));
  } catch (err) {
    security.close();
    throw err;
  }
  let manager: Manager | undefined;
  let server: Server | undefined;
  let endpoint: MetricsEndpoint | undefined;
  let probes: HealthPort | undefined;
  try {
    const metrics = await loadMetrics(settings);
    // Everything above the storage (Manager, health checks) goes through the measured one.
    if (metrics !== undefined)
      storage = metrics.meter(storage, ownsStorage ? settings.storage : "custom");
    manager = new Manager({
      storage,
      ttlMs: settings.ttlMs,
      maxLifetimeMs: settings.maxLifetimeMs,
      adoptUnknownIds: settings.adoptUnknownIds,
      requestIdWindowMs: settings.requestIdWindowMs,
      // No requestIdSecret: Manager finds the storage's (REQUEST_ID_SECRET, derived from the
      // id-hash key) through the metering wrapper, so every instance on one Redis (or a
      // restart over one directory) finds the others' request records. A storage without
      // one (memory, a custom storage) keeps a per-process random secret: memory keeps
      // nothing at rest, so its records could not outlive the process anyway.
      limits: {
        maxKeyBytes: settings.maxKeyBytes,
        maxValueBytes: settings.maxValueBytes,
        maxKeys: settings.maxKeys,
        maxSessionBytes: settings.maxSessionBytes,
        maxOps: settings.maxOps,
      },
      settingNames: LIMIT_NAMES,
      logger,
    });
    server = new Server({
      ...grpcServerOptions(settings),
      interceptors: [
        // First, so that it sits next to the transport and sees each response as it is queued.
        guard.interceptor,
        // Before the caller check, so that the calls it refuses are counted too.
        ...(metrics === undefined ? [] : [metrics.interceptor]),
        // Before anything reads the session id or touches storage.
        ...(security.interceptor === undefined ? [] : [security.interceptor]),
        sessionInterceptor(manager, {
          metadataKey: settings.metadataKey,
          logger,
          // Health and reflection calls carry no session; a stray id must not fail them.
          methods: (path) => path.startsWith(`/${SESSION_SERVICE_NAME}/`),
        }),
      ],
    });
    // The strict definition answers malformed request bytes with INVALID_ARGUMENT, not INTERNAL.
    server.addService(
      sessionServiceDefinition,
      sessionServiceImplementation({
        logger,
        // The caller check's verdict on each call: who it is (request_id replays are
        // answered to the same caller only) and what it may see. Without a caller check
        // there is nothing to look up: no lookup per call.
        ...(security.interceptor === undefined
          ? {}
          : { caller: (call) => security.callerOf(call.metadata) }),
      }),
    );
    const { health, endWatches } = addHealth(
      server,
      { "": "NOT_SERVING", [SESSION_SERVICE_NAME]: "NOT_SERVING" },
      logger,
    );
    if (security.reflection) addReflection(server, [SESSION_SERVICE_NAME, HEALTH_SERVICE_NAME]);

    const port = await bind(server, settings.host, settings.port, security.credentials);
    for (const http2Server of grpcHttp2Servers(server)) keepRepeatedAuthorization(http2Server);
    guard.attach(server);
    endpoint = await metrics?.serve();
    const readiness = ["", SESSION_SERVICE_NAME];
    if (settings.healthPort !== undefined) {
      probes = await serveHealthPort({
        host: settings.healthHost,
        port: settings.healthPort,
        readiness,
        handshakeTimeoutMs: settings.handshakeTimeoutMs,
        logger,
      });
    }
    const probeHealth = probes?.health;
    const monitor = new HealthMonitor({
      storage,
      // The health-only listener's readiness names follow the storage like the main port's.
      health:
        probeHealth === undefined
          ? health
          : {
              setStatus(service, next) {
                health.setStatus(service, next);
                probeHealth.setStatus(service, next);
              },
            },
      services: readiness,
      intervalMs: settings.healthCheckIntervalMs,
      logger,
    });
    await monitor.start();

    const grpcServer = server;
    const ownedManager = manager;
    const metricsEndpoint = endpoint;
    const healthEndpoint = probes;
    let stopping: Promise<void> | undefined;
    return {
      port,
      address: `${hostForDial(settings.host)}:${port}`,
      manager,
      health,
      server,
      config: settings,
      reflection: security.reflection,
      metricsPort: endpoint?.port,
      healthPort: probes?.port,
      stopServing: () => monitor.stop("NOT_SERVING"),
      reload: () => security.reload(),
      shutdown(graceMs = settings.shutdownGraceMs) {
        stopping ??= (async () => {
          monitor.stop("NOT_SERVING");
          // Watchers have just been told NOT_SERVING; their streams must not hold the drain.
          endWatches();
          // No await before retireAll(): callers rely on the listener being closed on return.
          // It ends each connection once its calls are done (grpc-js's own drain would
          // close sessions in a way Node 20 does not survive: see TransportGuard).
          await guard.retireAll(graceMs);
          await closeGrpc(grpcServer, 2000);
          guard.close();
          security.close();
          // Last of the listeners: a scrape or a liveness probe during the drain still answers.
          await metricsEndpoint?.close();
          await healthEndpoint?.close();
          await ownedManager.close();
          if (ownsStorage) await storage.close();
        })();
        return stopping;
      },
    };
  } catch (err) {
    security.close();
    server?.forceShutdown();
    await endpoint?.close();
    await probes?.close();
    await manager?.close();
    if (ownsStorage) await storage.close();
    throw err;
  }
}

/** Only when asked for: a server without metrics never loads prom-client. */
async function loadMetrics(settings: ServerConfig): Promise<ServerMetrics | undefined> {
  if (settings.metricsPort === undefined) return undefined;
  const { ServerMetrics } = await import("./metrics/ServerMetrics.js");
  return new ServerMetrics(settings.metricsHost, settings.metricsPort);
}

/** Paths of the methods whose request is a stream, which no receive deadline can bound. */
function streamingRequestPaths(): Set<string> {
  const paths = REFLECTION_SERVICES.map((service) => `/${service}/ServerReflectionInfo`);
  for (const method of Object.values(sessionServiceDefinition)) {
    if (method.requestStream) paths.push(method.path);
  }
  return new Set(paths);
}

function bind(
  server: Server,
  host: string,
  port: number,
  credentials: ServerCredentials,
): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(`${hostForDial(host)}:${port}`, credentials, (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
}

function hostForDial(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/**
 * After TransportGuard.retireAll() no connection is left: grpc-js's tryShutdown only has
 * its bookkeeping to close. forceShutdown() if that somehow takes longer than `waitMs`.
 */
function closeGrpc(server: Server, waitMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, waitMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
