// What every rule module of the storage conformance suite shares: the target it runs
// against, the per-test storage lifecycle, and the small builders its assertions use.
import assert from "node:assert/strict";
import type { JsonValue } from "../../core/json.js";
import { resolveLimits } from "../../core/Limits.js";
import { silentLogger } from "../../core/Logger.js";
import { SessionError } from "../../core/SessionError.js";
import { newSessionId } from "../../core/session/ids.js";
import { Manager, type ManagerOptions } from "../../core/session/Manager.js";
import type { ApplyMode, ApplyOptions, Expiry, Op, Storage } from "../../core/storage/Storage.js";
import { retryOnStall } from "../timing.js";

/** A storage under test. `create` must return a fresh, empty storage; the suite closes it. */
export interface StorageTarget {
  name: string;
  create: () => Storage | Promise<Storage>;
  /**
   * How many things `storage` (one that `create` returned) holds right now: sessions,
   * files, keys, whatever it allocates per session. Only compared with itself, so any
   * count that grows with a write and shrinks when a session is freed will do. Given,
   * the suite also checks that an expired session is freed without being read again;
   * without it that check is not registered (a storage offers no common way to observe it).
   */
  countStored?: (storage: Storage) => Promise<number>;
}

/** What a rule module needs to register its tests against one target. */
export interface ConformanceSuite {
  readonly target: StorageTarget;
  /** Runs `body` against a fresh storage and always closes it. */
  fresh: (body: (storage: Storage) => Promise<void>) => () => Promise<void>;
  /** Like fresh(), re-run from scratch (on a new storage) when the machine stalled. */
  timed: (body: (storage: Storage) => Promise<void>) => () => Promise<void>;
  /** How long after a slide at `since` a claim of liveness may still be checked. */
  alive: (ttlMs: number) => number;
  manager: (storage: Storage, extra?: Partial<ManagerOptions>) => Manager;
}

export function conformanceSuite(target: StorageTarget): ConformanceSuite {
  const fresh =
    (body: (storage: Storage) => Promise<void>): (() => Promise<void>) =>
    async () => {
      const storage = await target.create();
      try {
        await body(storage);
      } finally {
        await storage.close();
      }
    };
  return {
    target,
    fresh,
    timed: (body) => () => retryOnStall(fresh(body)),
    // A session slid at `since` is alive until at least since + ttl; storages may coalesce
    // slides by up to a twentieth of the TTL, so claims of liveness keep within 90% of it.
    alive: (ttlMs) => Math.floor(ttlMs * 0.9),
    manager: (storage, extra = {}) => new Manager({ storage, logger: silentLogger, ...extra }),
  };
}

export const LONG: Expiry = { ttlMs: 60_000 };
export const LIMITS = resolveLimits();

export function options(mode: ApplyMode, extra: Partial<ApplyOptions> = {}): ApplyOptions {
  return { ...LONG, limits: LIMITS, mode, ...extra };
}

export function set(key: string, value: JsonValue): Op {
  return { type: "set", key, value };
}

/** An assert.rejects/throws check: a SessionError with this code. */
export function code(expected: SessionError["code"]): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof SessionError, `expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, expected, `expected code ${expected}, got ${err.code}: ${err.message}`);
    return true;
  };
}

/** A SessionError with this code, reason (see ERROR_REASONS) and, when given, message. */
export function refused(
  expected: SessionError["code"],
  reason: string,
  message?: string,
): (err: unknown) => boolean {
  return (err) => {
    code(expected)(err);
    assert.equal((err as SessionError).reason, reason, (err as SessionError).message);
    if (message !== undefined) assert.equal((err as SessionError).message, message);
    return true;
  };
}

/** Commits a new session holding `data` through `manager`; its id. */
export async function createdSession(
  manager: Manager,
  data: Record<string, JsonValue>,
): Promise<string> {
  const session = manager.session();
  session.setMap(data);
  await session.commit();
  return session.id as string;
}

/** Creates a session holding `data` straight through the Storage interface; its id. */
export async function storedSession(
  storage: Storage,
  data: Record<string, JsonValue>,
): Promise<string> {
  const id = newSessionId();
  const ops = Object.entries(data).map(([key, value]) => set(key, value));
  await storage.apply(id, { ops }, options("create"));
  return id;
}
