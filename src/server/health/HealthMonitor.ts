import type { Logger } from "../../core/Logger.js";
import { capabilityOf, SHARDED } from "../../core/storage/capabilities.js";
import type { Storage } from "../../core/storage/Storage.js";
import type { Health, ServingStatus } from "./addHealth.js";

export interface HealthMonitorOptions {
  storage: Storage;
  health: Health;
  /** Health service names whose status follows the storage ('' = the whole server). */
  services: readonly string[];
  intervalMs: number;
  logger: Logger;
}

/**
 * Pings the storage every interval and mirrors the outcome in the health statuses, so a
 * load balancer stops sending calls to an instance whose storage is unreachable and
 * resumes when it answers again. A ping that neither resolves nor rejects within the
 * interval counts as a failure: a hung storage must not look healthy.
 *
 * A storage spread over shards (Redis Cluster) with some shards down stays SERVING and
 * logs which shards are down: every instance shares the same shards, so NOT_SERVING
 * would take the whole fleet out for the shards that still work. It turns NOT_SERVING
 * only when no shard answers.
 */
export class HealthMonitor {
  readonly #options: HealthMonitorOptions;
  #timer: NodeJS.Timeout | undefined;
  #status: ServingStatus | undefined;
  #checking = false;
  /** The shards the last check found down, joined; "" when none. */
  #trouble = "";
  #stopped = false;

  constructor(options: HealthMonitorOptions) {
    this.#options = options;
  }

  /** Runs the first check (so the status is known when this resolves), then every interval. */
  async start(): Promise<void> {
    await this.check();
    if (this.#stopped) return;
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Stops checking and pins every status to `final` (NOT_SERVING while shutting down). */
  stop(final: ServingStatus): void {
    this.#stopped = true;
    clearInterval(this.#timer);
    this.#set(final);
  }

  async check(): Promise<void> {
    // A slow ping must not pile up checks behind it.
    if (this.#checking || this.#stopped) return;
    this.#checking = true;
    let error: unknown;
    try {
      await withTimeout(this.#options.storage.ping(), this.#options.intervalMs);
    } catch (err) {
      error = err ?? new Error("ping failed");
    } finally {
      this.#checking = false;
    }
    if (this.#stopped) return;
    const next: ServingStatus = error === undefined ? "SERVING" : "NOT_SERVING";
    const down =
      error === undefined
        ? (capabilityOf(this.#options.storage, SHARDED)?.shardTrouble() ?? [])
        : [];
    const trouble = down.join("; ");
    if (next !== this.#status || trouble !== this.#trouble) {
      const { logger } = this.#options;
      if (error !== undefined) {
        logger.warn("storage unreachable, health NOT_SERVING", {
          error: error instanceof Error ? error.message : String(error),
        });
      } else if (down.length > 0) {
        logger.warn("storage partly unreachable, health SERVING", { down });
      } else {
        logger.info("storage reachable, health SERVING");
      }
    }
    this.#trouble = trouble;
    this.#set(next);
  }

  #set(status: ServingStatus): void {
    if (status === this.#status) return;
    this.#status = status;
    for (const service of this.#options.services) this.#options.health.setStatus(service, status);
  }
}

function withTimeout(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`storage ping took longer than ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
