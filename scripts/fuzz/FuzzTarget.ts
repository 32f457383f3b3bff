import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type RedisProcess, startRedis } from "../../test/support/redisServers.js";
import { type Exit, ServerProcess } from "../../test/support/serverProcess.js";

export const STORAGES = ["memory", "file", "redis", "redis-hash"] as const;
export type StorageKind = (typeof STORAGES)[number];

/**
 * A session file as the server's FileStorage names it (under its hashed id, see
 * HashedIdStorage), or the id-hash key kept beside them. Checked between cases, when no write is in
 * flight, so a temp file (`.<id>.<hex>.tmp`) left behind counts as stray too.
 */
const STORE_ENTRY = /^(?:[0-9A-Za-z_-]{47}\.session|\.id-hash-key)$/;

/**
 * One sessiond child process (`src/server/main.ts`, as `npm start` runs it) on one storage,
 * with its own redis-server for the Redis storages. The file storage directory is
 * `<fresh temp dir>/store`: anything else appearing in the temp dir was written outside it.
 */
export class FuzzTarget {
  readonly storage: StorageKind;
  readonly dir: string;
  readonly store: string;
  server: ServerProcess;
  readonly #redis: RedisProcess | undefined;

  private constructor(
    storage: StorageKind,
    dir: string,
    server: ServerProcess,
    redis: RedisProcess | undefined,
  ) {
    this.storage = storage;
    this.dir = dir;
    this.store = join(dir, "store");
    this.server = server;
    this.#redis = redis;
  }

  static async start(storage: StorageKind): Promise<FuzzTarget> {
    const dir = mkdtempSync(join(tmpdir(), "sessiond-fuzz-"));
    const redis = storage.startsWith("redis") ? await startRedis() : undefined;
    try {
      const server = await ServerProcess.start(serverArgs(storage, join(dir, "store"), redis));
      return new FuzzTarget(storage, dir, server, redis);
    } catch (err) {
      await redis?.stop();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get address(): string {
    return this.server.address;
  }

  /** undefined while the server runs; how it ended otherwise. */
  exit(): Exit | undefined {
    const { child } = this.server;
    if (child.exitCode === null && child.signalCode === null) return undefined;
    return { code: child.exitCode, signal: child.signalCode };
  }

  /** The last stderr lines, for a failure report. */
  lastLines(n = 8): string[] {
    return this.server.lines.slice(-n).map((l) => (l.length > 400 ? `${l.slice(0, 400)}…` : l));
  }

  /** A fresh server on the same storage (after a crash, so that fuzzing can go on). */
  async restart(): Promise<void> {
    await this.server.stop(5000);
    this.server = await ServerProcess.start(serverArgs(this.storage, this.store, this.#redis));
  }

  /** Entries written where they must not be: beside the store, or not named as sessions. */
  strayFiles(): string[] {
    const out: string[] = [];
    for (const name of readdirSync(this.dir)) {
      if (name !== "store") out.push(join(this.dir, name));
    }
    let stored: string[] = [];
    try {
      stored = readdirSync(this.store);
    } catch {
      // Storages other than file never create it.
    }
    for (const name of stored) {
      if (this.storage !== "file" || !STORE_ENTRY.test(name)) out.push(join(this.store, name));
    }
    return out;
  }

  /** SIGTERM: the server must exit 0. Then the Redis and the temp dir go. */
  async stop(): Promise<Exit> {
    try {
      return await this.server.stop(30_000);
    } finally {
      await this.#redis?.stop();
      rmSync(this.dir, { recursive: true, force: true });
    }
  }
}

function serverArgs(
  storage: StorageKind,
  store: string,
  redis: RedisProcess | undefined,
): string[] {
  return [
    "--storage",
    storage,
    "--log-level",
    "warn",
    // Each storage is given only its own settings: the server refuses the others.
    ...(storage === "file" ? ["--file-dir", store] : []),
    ...(redis ? ["--redis-url", redis.url] : []),
  ];
}
