import { Gauge, type Registry } from "prom-client";
import { SessionError } from "../../core/SessionError.js";
import type { ApplyResult, Storage } from "../../core/storage/Storage.js";
import { StorageDecorator } from "../../core/storage/StorageDecorator.js";
import type { ServerMetrics } from "./ServerMetrics.js";

type StorageMetrics = Pick<
  ServerMetrics,
  | "registry"
  | "storageCalls"
  | "storageErrors"
  | "storageDuration"
  | "sessionsCreated"
  | "sessionsDestroyed"
  | "sessionsRegenerated"
  | "versionConflicts"
>;

const REDIS_KINDS = new Set(["redis", "redis-hash"]);

/**
 * A Storage that counts and times every call of the one it wraps, and counts what the
 * calls did to sessions. Arguments are passed on as they are (the signal and every
 * option, including ones the Storage interface may grow), results and errors unchanged.
 * close() and every capability pass through untouched (StorageDecorator).
 */
export class MeteredStorage extends StorageDecorator {
  readonly #kind: string;
  readonly #metrics: StorageMetrics;
  /** Redis only: the last ping's outcome, the one view of the connection every kind of deployment (single node, Sentinel, Cluster) has. */
  readonly #up: Gauge | undefined;

  constructor(inner: Storage, kind: string, metrics: StorageMetrics) {
    super(inner);
    this.#kind = kind;
    this.#metrics = metrics;
    this.#up = REDIS_KINDS.has(kind) ? redisUp(metrics.registry) : undefined;
  }

  override read(...args: Parameters<Storage["read"]>): ReturnType<Storage["read"]> {
    return this.#measure("read", () => this.inner.read(...args));
  }

  override readKey(...args: Parameters<Storage["readKey"]>): ReturnType<Storage["readKey"]> {
    return this.#measure("readKey", () => this.inner.readKey(...args));
  }

  override async apply(...args: Parameters<Storage["apply"]>): ReturnType<Storage["apply"]> {
    let result: ApplyResult | undefined;
    try {
      result = await this.#measure("apply", () => this.inner.apply(...args));
    } catch (err) {
      // A session at another version than expected; a missing one is refused by Session
      // before the storage is asked.
      if (
        err instanceof SessionError &&
        err.code === "aborted" &&
        args[1].expectedVersion !== undefined
      ) {
        this.#metrics.versionConflicts.inc();
      }
      throw err;
    }
    if (result?.version === 1 && result.replayed !== true) this.#metrics.sessionsCreated.inc();
    return result;
  }

  override async regenerate(
    ...args: Parameters<Storage["regenerate"]>
  ): ReturnType<Storage["regenerate"]> {
    const result = await this.#measure("regenerate", () => this.inner.regenerate(...args));
    if (typeof result === "object" && result.replayed !== true) {
      this.#metrics.sessionsRegenerated.inc();
    }
    return result;
  }

  override touch(...args: Parameters<Storage["touch"]>): ReturnType<Storage["touch"]> {
    return this.#measure("touch", () => this.inner.touch(...args));
  }

  override async destroy(...args: Parameters<Storage["destroy"]>): ReturnType<Storage["destroy"]> {
    const result = await this.#measure("destroy", () => this.inner.destroy(...args));
    if (result?.replayed !== true) this.#metrics.sessionsDestroyed.inc();
    return result;
  }

  override async ping(): Promise<void> {
    try {
      await this.#measure("ping", () => this.inner.ping());
    } catch (err) {
      this.#up?.set(0);
      throw err;
    }
    this.#up?.set(1);
  }

  async #measure<T>(method: string, call: () => Promise<T>): Promise<T> {
    const labels = { storage: this.#kind, method };
    const started = performance.now();
    this.#metrics.storageCalls.inc(labels);
    try {
      return await call();
    } catch (err) {
      const code = err instanceof SessionError ? err.code : "unknown";
      this.#metrics.storageErrors.inc({ ...labels, code });
      throw err;
    } finally {
      this.#metrics.storageDuration.observe(labels, (performance.now() - started) / 1000);
    }
  }
}

function redisUp(registry: Registry): Gauge {
  return new Gauge({
    name: "sessiond_redis_up",
    help: "1 when the last storage ping (every SESSIOND_HEALTH_CHECK_INTERVAL) reached Redis, else 0; a Cluster is up while any master answers.",
    registers: [registry],
  });
}
