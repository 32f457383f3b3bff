#!/usr/bin/env -S node --max-semi-space-size=64
import { ConfigError } from "../core/ConfigError.js";
// The sessiond process (`npm start`). Everything reusable lives in startServer.ts; this file
// only reads the settings, logs, and turns signals into a graceful shutdown.
import { jsonLogger } from "../core/Logger.js";
import { parseConfig } from "./config/parseConfig.js";
import { helpText, wantsHelp } from "./helpText.js";
import { packageVersion } from "./version.js";

// The shebang above gives the installed `sessiond` command the young-generation size `npm
// start` uses (docs/operations.md, "Running in production"; scripts/bench/serverFlags.ts for why).
// `env -S` splits it into node's arguments (GNU coreutils 8.30+, BSD and macOS env).

const argv = process.argv.slice(2);

if (wantsHelp(argv)) {
  process.stdout.write(helpText());
  process.exit(0);
}
if (argv.includes("--version")) {
  process.stdout.write(`sessiond ${packageVersion()}\n`);
  process.exit(0);
}

let parsed: ReturnType<typeof parseConfig>;
try {
  parsed = parseConfig(argv, process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`sessiond: ${err.message}\n`);
  process.exit(2);
}
const { config, warnings } = parsed;
const logger = jsonLogger(config.logLevel);
for (const warning of warnings) logger.warn(warning);

process.on("uncaughtException", (err) => {
  logger.error("uncaught exception, exiting", { error: err.message, stack: err.stack });
  process.exit(1);
});
process.on("unhandledRejection", (reason) => {
  const err = reason instanceof Error ? reason : new Error(String(reason));
  logger.error("unhandled promise rejection", { error: err.message, stack: err.stack });
});

// Loaded only now, so that --help and a bad setting answer without loading gRPC.
const { startServer } = await import("./startServer.js");

let running: Awaited<ReturnType<typeof startServer>> | undefined;
let stopSignal: NodeJS.Signals | undefined;
let stopSignalAt = 0;

// Installed before the server starts: a signal that lands while it starts (or just after
// the "listening" line) must shut it down gracefully, not kill it with the default action.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopSignal !== undefined) {
      // One keypress or one stop can arrive twice: Ctrl-C signals the whole process group,
      // and npm forwards what it got to its child as well. Only a later one means "now".
      if (Date.now() - stopSignalAt < 1000) return;
      logger.warn("second signal, exiting without waiting", { signal });
      process.exit(1);
    }
    stopSignal = signal;
    stopSignalAt = Date.now();
    if (running) stop(running, signal);
    // else: startServer is still running; stop() follows as soon as it resolves.
  });
}

// SIGHUP re-reads the certificate and tokens files (they are also watched for changes).
// Installed early so that a SIGHUP during start-up does not kill the process.
process.on("SIGHUP", () => {
  logger.info("SIGHUP: reloading the TLS and tokens files");
  void running?.reload();
});

try {
  running = await startServer(config, { logger });
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`sessiond: ${err.message}\n`);
    process.exit(2);
  }
  const e = err instanceof Error ? err : new Error(String(err));
  logger.error("could not start", { error: e.message, stack: e.stack });
  process.exit(1);
}

// Printed whatever the log level: with --port 0 it is the only place the port is named.
jsonLogger("info").info("listening", {
  address: running.address,
  host: config.host,
  port: running.port,
  storage: config.storage,
  // Named because the default depends on the environment (XDG_STATE_HOME, HOME).
  fileDir: config.storage === "file" ? config.fileDir : undefined,
  tls:
    config.tlsCertFile === undefined ? "off" : config.tlsClientCaFile === undefined ? "on" : "mtls",
  tokens: config.authTokensFile !== undefined,
  reflection: running.reflection,
  metricsPort: running.metricsPort,
  healthPort: running.healthPort,
  version: packageVersion(),
  node: process.version,
  // What node was started with that sizes the heap (docs/operations.md, "Running in production").
  heapFlags: heapFlags(),
  pid: process.pid,
});
if (stopSignal !== undefined) stop(running, stopSignal);

function stop(server: NonNullable<typeof running>, signal: NodeJS.Signals): void {
  const drainMs = config.shutdownDrainMs;
  if (drainMs === 0) {
    shutDown(server, signal);
    return;
  }
  // Readiness first: load balancers and Kubernetes endpoints stop routing new calls here
  // while the ones they still send are served; only then does the listener close.
  server.stopServing();
  logger.info("draining: health NOT_SERVING, still serving calls", { signal, drainMs });
  setTimeout(() => shutDown(server, signal), drainMs);
}

function shutDown(server: NonNullable<typeof running>, signal: NodeJS.Signals): void {
  // shutdown() closes the listener synchronously, so once this line is out no new
  // connection is accepted; calls already received run on for up to the grace period.
  const stopping = server.shutdown();
  logger.info("shutting down", { signal, graceMs: config.shutdownGraceMs });
  stopping.then(
    () => {
      logger.info("stopped");
      process.exit(0);
    },
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      logger.error("shutdown failed", { error: e.message, stack: e.stack });
      process.exit(1);
    },
  );
}

/** --max-* flags (heap sizes) from node's command line and NODE_OPTIONS. */
function heapFlags(): string[] {
  const fromEnv = (process.env.NODE_OPTIONS ?? "").split(/\s+/);
  return [...process.execArgv, ...fromEnv].filter((flag) => flag.startsWith("--max-"));
}
