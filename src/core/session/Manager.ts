import { integerOption } from "../integerOption.js";
import { type Limits, resolveLimits } from "../Limits.js";
import { type Logger, silentLogger } from "../Logger.js";
import { MemoryStorage } from "../memory/MemoryStorage.js";
import type { ApplyMode, ApplyOptions, CallSignal, Expiry, Storage } from "../storage/Storage.js";
import { assertValidSessionId, newSessionId } from "./ids.js";
import { DEFAULT_REQUEST_ID_WINDOW_MS } from "./requestId.js";
import { Session } from "./Session.js";

export const DEFAULT_TTL_MS = 24 * 60 * 60 * 1000;

export interface ManagerOptions {
  /**
   * Where sessions live. Default: a MemoryStorage of this Manager's own — no I/O and nothing
   * shared with other apps on the host; pass a FileStorage or a Redis storage to keep
   * sessions across restarts or processes.
   */
  storage?: Storage;
  /** Idle time to live, slid by every access. Default 24 h. */
  ttlMs?: number;
  /** Optional absolute lifetime from creation, whatever the activity. */
  maxLifetimeMs?: number;
  /**
   * Adopt an unknown client-supplied id on first write instead of issuing a fresh one.
   * Off by default: adopting lets an attacker plant a known id (session fixation).
   */
  adoptUnknownIds?: boolean;
  /** Custom id generator; its ids must still be 32 characters of [0-9a-z]. */
  generateId?: () => string;
  limits?: Partial<Limits>;
  /** Where the library's warnings go. Default: nowhere (the server passes its logger). */
  logger?: Logger;
  /**
   * How long a request id (Session#setRequestId) answers retries with the first outcome.
   * Default 10 minutes.
   */
  requestIdWindowMs?: number;
}

/** What one request's Session is opened with. */
export interface SessionOptions {
  /**
   * The request's cancellation (and deadline): once aborted, the Session starts no further
   * storage command and its calls reject with SessionError("cancelled" or
   * "deadline_exceeded"; see core/storage/cancellation.ts). The gRPC interceptor passes one.
   */
  signal?: CallSignal | undefined;
}

/** The Manager's checked configuration, which every Session it opens reads. */
export interface ManagerConfig {
  readonly storage: Storage;
  readonly expiry: Expiry;
  readonly limits: Limits;
  readonly adoptUnknownIds: boolean;
  readonly logger: Logger;
  readonly requestIdWindowMs: number;
  /** The storage's apply options for each mode, built once rather than on every commit. */
  readonly applyOptions: Readonly<Record<ApplyMode, Readonly<ApplyOptions>>>;
  generateId(): string;
}

/** Creates request-scoped Sessions over one Storage. Cheap to call per request: no I/O. */
export class Manager {
  readonly context: ManagerConfig;
  readonly #ownsStorage: boolean;

  constructor(options: ManagerOptions = {}) {
    const ttlMs = positiveMs("ttlMs", options.ttlMs, DEFAULT_TTL_MS);
    const maxLifetimeMs =
      options.maxLifetimeMs === undefined
        ? undefined
        : positiveMs("maxLifetimeMs", options.maxLifetimeMs, 0);
    const logger = options.logger ?? silentLogger;
    const requestIdWindowMs = positiveMs(
      "requestIdWindowMs",
      options.requestIdWindowMs,
      DEFAULT_REQUEST_ID_WINDOW_MS,
    );
    const custom = options.generateId;
    this.#ownsStorage = options.storage === undefined;
    const expiry: Expiry = { ttlMs, maxLifetimeMs };
    const limits = resolveLimits(options.limits);
    const applyOptions = (mode: ApplyMode) => Object.freeze({ ...expiry, limits, mode });
    this.context = {
      storage: options.storage ?? new MemoryStorage(),
      expiry,
      limits,
      applyOptions: {
        existing: applyOptions("existing"),
        create: applyOptions("create"),
        upsert: applyOptions("upsert"),
      },
      adoptUnknownIds: options.adoptUnknownIds ?? false,
      logger,
      requestIdWindowMs,
      generateId: custom
        ? () => {
            const id = custom();
            assertValidSessionId(id);
            return id;
          }
        : newSessionId,
    };
  }

  get storage(): Storage {
    return this.context.storage;
  }

  /**
   * The session named by `id` (undefined = the caller has none yet). A malformed id throws
   * invalid_argument here, before any storage sees it. The empty string is malformed: a
   * caller that has no session sends no id.
   */
  session(id?: string, options: SessionOptions = {}): Session {
    if (id !== undefined) assertValidSessionId(id);
    return new Session(this.context, id, options.signal);
  }

  /** Closes the storage if the Manager created it (a storage passed in belongs to the caller). */
  async close(): Promise<void> {
    if (this.#ownsStorage) await this.context.storage.close();
  }
}

function positiveMs(option: string, value: number | undefined, fallback: number): number {
  return integerOption(option, value, { min: 1, fallback, unit: "milliseconds" });
}
