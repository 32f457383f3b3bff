#!/usr/bin/env node
import { ConfigError } from "../core/ConfigError.js";
// The sessiond process (`npm start`). Everything reusable lives in startServer.ts; this file
// only reads the settings, logs, and turns signals into a graceful shutdown.
import { jsonLogger } from "../core/Logger.js";
import { parseConfig } from "./config/parseConfig.js";
import { helpText, wantsHelp } from "./helpText.js";

const argv = process.argv.slice(2);

if (wantsHelp(argv)) {
  process.stdout.write(helpText());
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

// Installed before the server starts: a signal that lands while it starts (or just after
// the "listening" line) must shut it down gracefully, not kill it with the default action.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (stopSignal !== undefined) {
      logger.warn("second signal, exiting without waiting", { signal });
      process.exit(1);
    }
    stopSignal = signal;
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
  pid: process.pid,
});
if (stopSignal !== undefined) stop(running, stopSignal);

function stop(server: NonNullable<typeof running>, signal: NodeJS.Signals): void {
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
