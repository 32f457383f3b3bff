// sessiond as the bench runs it: the product's startServer() with the storage the
// environment names, filled with BENCH_SESSIONS sessions before it listens. Bench-only
// wiring; the product code knows nothing of it.
// Env: BENCH_STORAGE (memory|file|redis|redis-hash), BENCH_SESSIONS, BENCH_REDIS_URL,
// BENCH_FILE_DIR, BENCH_REDIS_WAIT_REPLICAS. Run with --expose-gc to get the memory figures.
import { silentLogger } from "../../src/core/Logger.js";
import { Manager } from "../../src/core/session/Manager.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { resolveConfig } from "../../src/server/config/resolveConfig.js";
import type { StorageKind } from "../../src/server/config/ServerConfig.js";
import { createStorage } from "../../src/server/createStorage.js";
import { startServer } from "../../src/server/startServer.js";
import {
  payloadBytes,
  SAMPLES_PER_SHAPE,
  type SampleSession,
  sessionData,
  shapeOf,
} from "./population.js";
import { announceReady } from "./readyLine.js";

const kind = (process.env.BENCH_STORAGE ?? "memory") as StorageKind;
const sessions = Number(process.env.BENCH_SESSIONS ?? "1000");
const config = resolveConfig({
  host: "127.0.0.1",
  port: 0,
  storage: kind,
  fileDir: process.env.BENCH_FILE_DIR,
  redisUrl: process.env.BENCH_REDIS_URL,
  redisPrefix: "bench:",
  logLevel: "error",
});
// Redis storages are built from their own factory, with the same settings the server's
// config carries, so the bench does not depend on how the server wires them.
const storage =
  kind === "redis" || kind === "redis-hash"
    ? createRedisStorage(
        kind,
        {
          url: config.redisUrl,
          prefix: config.redisPrefix,
          commandTimeoutMs: config.redisTimeoutMs,
          waitReplicas: Number(process.env.BENCH_REDIS_WAIT_REPLICAS ?? "0"),
        },
        silentLogger,
      )
    : await createStorage(config, silentLogger);
// Sessions are written the way a client's SetMap would write them (validated, copied to
// their stored form, committed through Session), only without the network in between.
const manager = new Manager({
  storage,
  ttlMs: config.ttlMs,
  maxLifetimeMs: config.maxLifetimeMs,
  limits: {
    maxKeyBytes: config.maxKeyBytes,
    maxValueBytes: config.maxValueBytes,
    maxKeys: config.maxKeys,
    maxSessionBytes: config.maxSessionBytes,
  },
  logger: silentLogger,
});

const gc = (globalThis as { gc?: () => void }).gc;
const heapUsed = () => {
  gc?.();
  gc?.();
  return process.memoryUsage().heapUsed;
};

const heapBefore = heapUsed();
const started = Date.now();
const samples: SampleSession[] = [];
let payload = 0;
// Enough writes in flight to keep a Redis pipeline busy, few enough to bound memory.
const CONCURRENCY = kind === "memory" ? 1 : 256;
let next = 0;
async function worker(): Promise<void> {
  while (next < sessions) {
    const index = next++;
    const shape = shapeOf(index);
    const data = sessionData(index, shape);
    payload += payloadBytes(data);
    const session = manager.session();
    session.setMap(data);
    await session.commit();
    const id = session.id as string;
    if (index < 2 * SAMPLES_PER_SHAPE) samples.push({ id, index, shape });
  }
}
await Promise.all(Array.from({ length: CONCURRENCY }, worker));
const populateMs = Date.now() - started;
const heapAfter = heapUsed();

const running = await startServer(config, { storage, logger: silentLogger });
const profiler = process.env.BENCH_CPU_PROF ? await startProfiler() : undefined;
samples.sort((a, b) => a.index - b.index);
announceReady({
  port: running.port,
  pid: process.pid,
  samples,
  populateMs,
  heap:
    kind === "memory" && gc
      ? { before: heapBefore, after: heapAfter, payloadBytes: payload, sessions }
      : undefined,
});

process.on("SIGTERM", () => {
  void running
    .shutdown(1000)
    .then(() => storage.close())
    .then(() => profiler?.())
    .finally(() => process.exit(0));
});

/**
 * A CPU profile of the serving phase only (node --cpu-prof would also record start-up and
 * the pre-population, which dwarf the calls at a million sessions). Returns the function
 * that stops it and writes BENCH_CPU_PROF.
 */
async function startProfiler(): Promise<() => Promise<void>> {
  const { Session } = await import("node:inspector/promises");
  const { writeFile } = await import("node:fs/promises");
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  return async () => {
    const { profile } = await session.post("Profiler.stop");
    await writeFile(process.env.BENCH_CPU_PROF as string, JSON.stringify(profile));
  };
}
