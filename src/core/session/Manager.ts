import { ConfigError } from "../ConfigError.js";
import { integerOption } from "../integerOption.js";
import { type Limits, resolveLimits } from "../Limits.js";
import { type Logger, silentLogger } from "../Logger.js";
import { MemoryStorage } from "../memory/MemoryStorage.js";
import type { SettingNames } from "../settingNames.js";
import { capabilityOf, LOGGER_TARGET, REQUEST_ID_SECRET } from "../storage/capabilities.js";
import type { ApplyMode, ApplyOptions, CallSignal, Expiry, Storage } from "../storage/Storage.js";
import { assertValidSessionId, newSessionId } from "./ids.js";
import {
  DEFAULT_REQUEST_ID_WINDOW_MS,
  MIN_REQUEST_ID_SECRET_BYTES,
  RequestIdSecret,
  type RequestIdSecretSource,
} from "./requestId.js";
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
  /**
   * Where a deployer sets each limit, by option name ({ maxValueBytes: "SESSIOND_MAX_VALUE_BYTES
   * (--max-value-bytes)" }, see core/settingNames.ts): a refusal then names that instead
   * of the option ("over the limit 65536 set by …"). The server passes its settings; an
   * app embedding the library may pass its own. Absent: refusals name the option.
   */
  settingNames?: SettingNames;
  /**
   * Where the library's warnings go. Default: nowhere (the server passes its logger). A
   * storage built without a logger of its own (FileStorage, the Redis storages) adopts
   * this one (LOGGER_TARGET), and so does the gRPC interceptor over this Manager: give it
   * once, here.
   */
  logger?: Logger;
  /**
   * How long a request id (Session#setRequestId) answers retries with the first outcome.
   * Default 10 minutes.
   */
  requestIdWindowMs?: number;
  /**
   * The secret request records are named by (HMAC) and issued session ids sealed under
   * (HKDF from it and the request id), so a storage dump plus a request id reveals no
   * record and no id: at least 32 random bytes, or a lookup that loads them on first use.
   * Every Manager that shares a storage's records (several processes on one Redis, a
   * restart over one file directory) needs the same one. Default: derived from the id-hash
   * key when `storage` is (or wraps, through StorageDecorators) a HashedIdStorage, found by
   * its REQUEST_ID_SECRET capability (so those Managers agree already); otherwise a
   * random secret of this Manager's, and request records then do not survive a restart nor
   * span Managers (a retry that reaches another one applies again).
   */
  requestIdSecret?: RequestIdSecretSource;
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
  /** Where a deployer sets the limits, for refusals (ManagerOptions.settingNames). */
  readonly settingNames: SettingNames | undefined;
  readonly adoptUnknownIds: boolean;
  readonly logger: Logger;
  readonly requestIdWindowMs: number;
  /** What request records are keyed and sealed with (see ManagerOptions.requestIdSecret). */
  readonly requestIdSecret: RequestIdSecret;
  /** The storage's apply options for each mode, built once rather than on every commit. */
  readonly applyOptions: Readonly<Record<ApplyMode, Readonly<ApplyOptions>>>;
  generateId(): string;
}

/** Creates request-scoped Sessions over one Storage. Cheap to call per request: no I/O. */
export class Manager {
  readonly context: ManagerConfig;
  readonly #ownsStorage: boolean;
  readonly #logger: Logger | undefined;

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
    const storage = options.storage ?? new MemoryStorage();
    // Through any decorator: a storage built without a logger logs through this one.
    if (options.logger !== undefined) capabilityOf(storage, LOGGER_TARGET)?.adoptLogger(logger);
    this.#ownsStorage = options.storage === undefined;
    this.#logger = options.logger;
    const expiry: Expiry = { ttlMs, maxLifetimeMs };
    const limits = resolveLimits(options.limits);
    const applyOptions = (mode: ApplyMode) => Object.freeze({ ...expiry, limits, mode });
    this.context = {
      storage,
      expiry,
      limits,
      settingNames: options.settingNames,
      applyOptions: {
        existing: applyOptions("existing"),
        create: applyOptions("create"),
        upsert: applyOptions("upsert"),
      },
      adoptUnknownIds: options.adoptUnknownIds ?? false,
      logger,
      requestIdWindowMs,
      requestIdSecret: requestIdSecret(options.requestIdSecret, storage),
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
   * The logger this Manager was given, undefined when none (its own warnings then go
   * nowhere): the gRPC interceptor and the handler wrappers under it log through it.
   */
  get logger(): Logger | undefined {
    return this.#logger;
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

function requestIdSecret(
  source: RequestIdSecretSource | undefined,
  storage: Storage,
): RequestIdSecret {
  if (source === undefined) {
    // Found through any wrapper (MeteredStorage around HashedIdStorage, say).
    const provider = capabilityOf(storage, REQUEST_ID_SECRET);
    return provider === undefined
      ? RequestIdSecret.random()
      : new RequestIdSecret(provider.requestIdSecret());
  }
  if (source instanceof Uint8Array) {
    if (source.length < MIN_REQUEST_ID_SECRET_BYTES) {
      throw new ConfigError(
        `must be at least ${MIN_REQUEST_ID_SECRET_BYTES} bytes (e.g. crypto.randomBytes(32), kept where every instance reads it), got ${source.length}`,
        "requestIdSecret",
      );
    }
    return new RequestIdSecret(source);
  }
  if (typeof source !== "object" || source === null || typeof source.load !== "function") {
    throw new ConfigError(
      "must be a Buffer of at least 32 bytes or an object with load(): Promise<Buffer>",
      "requestIdSecret",
    );
  }
  return new RequestIdSecret(source);
}

function positiveMs(option: string, value: number | undefined, fallback: number): number {
  return integerOption(option, value, { min: 1, fallback, unit: "milliseconds" });
}
