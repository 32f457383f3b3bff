import type { JsonValue, SessionData } from "../../core/json.js";
import { SessionError } from "../../core/SessionError.js";
import type { SessionRecord } from "../../core/storage/Storage.js";
import type {
  OneKeyScriptName,
  RegenerateScriptName,
  ScriptCommands,
  WriteScriptName,
} from "./scripts.js";
import type { SessionKeys } from "./sessionKeys.js";

/** A key's stored value as the fast read path found it: its JSON text, or null when absent. */
interface Found {
  text: string | null;
}

/**
 * Where a session lives and how its plain form reads: the part of a Redis storage that its
 * write strategy (Lua delta, or SessionEngine with sealing) does not decide.
 */
export interface RedisLayout {
  readonly name: "redis" | "redis-hash";
  /** The Redis key holding session `id`. */
  key(keys: SessionKeys, id: string): string;
  /** The Lua-delta strategy's scripts (see scripts.ts). */
  readonly lua: {
    read: OneKeyScriptName;
    readKey: OneKeyScriptName;
    touch: WriteScriptName;
    apply: WriteScriptName;
    regenerate: RegenerateScriptName;
  };
  /** The sealing strategy's scripts (see encryptedScripts.ts). */
  readonly sealed: {
    load: "sessiondEncKvLoad" | "sessiondEncHashLoad";
    commit: "sessiondEncKvCommit" | "sessiondEncHashCommit";
    touch: "sessiondEncKvTouch" | "sessiondEncHashTouch";
  };
  /** The plain read script's reply as a session. */
  decodeRead(reply: unknown[]): SessionRecord;
  /**
   * The fast Get path (no absolute lifetime, so the new expiry does not depend on what is
   * stored): `peek` reads a key without sliding (undefined: no session), `slide` reads it
   * with a PEXPIRE auto-pipelined into the same round trip (undefined: nothing was slid).
   */
  peek(c: ScriptCommands, key: string, field: string): Promise<Found | undefined>;
  slide(c: ScriptCommands, key: string, field: string, ttl: string): Promise<Found | undefined>;
}

interface Document {
  v: number;
  c: number;
  d: Record<string, string>;
}

/** A document's key, parsed here rather than by cjson inside Redis, which every instance shares. */
function inDocument(raw: string, field: string): Found {
  return decode(() => {
    const data = (JSON.parse(raw) as Document).d;
    return { text: Object.hasOwn(data, field) ? (data[field] as string) : null };
  });
}

/**
 * `redis`: one string key per session holding its whole document (see ../lua/kv_*.lua).
 * A whole-session read is one GET; every write rewrites the document inside Redis, so
 * it suits small sessions read whole.
 */
export const KV: RedisLayout = {
  name: "redis",
  key: (keys, id) => keys.kv(id),
  lua: {
    read: "sessiondKvRead",
    readKey: "sessiondKvReadKey",
    touch: "sessiondKvTouch",
    apply: "sessiondKvApply",
    regenerate: "sessiondKvRegenerate",
  },
  sealed: { load: "sessiondEncKvLoad", commit: "sessiondEncKvCommit", touch: "sessiondEncKvTouch" },
  decodeRead(reply) {
    const [raw, expireTime] = reply as [string, string];
    const doc = JSON.parse(raw) as Document;
    return {
      version: doc.v,
      createTime: doc.c,
      expireTime: Number(expireTime),
      data: dataFrom(Object.entries(doc.d)),
    };
  },
  async peek(c, key, field) {
    const raw = await c.get(key);
    return typeof raw === "string" ? inDocument(raw, field) : undefined;
  },
  async slide(c, key, field, ttl) {
    const [raw, slid] = await Promise.all([c.get(key), c.pexpire(key, ttl)]);
    return Number(slid) === 1 && typeof raw === "string" ? inDocument(raw, field) : undefined;
  },
};

/**
 * `redis-hash`: one hash per session, one field per key (see ../lua/hash_*.lua), and the
 * metadata field "". Reading or writing one key touches only that field, so it suits large
 * sessions accessed by key.
 */
export const HASH: RedisLayout = {
  name: "redis-hash",
  key: (keys, id) => keys.hash(id),
  lua: {
    read: "sessiondHashRead",
    readKey: "sessiondHashReadKey",
    touch: "sessiondHashTouch",
    apply: "sessiondHashApply",
    regenerate: "sessiondHashRegenerate",
  },
  sealed: {
    load: "sessiondEncHashLoad",
    commit: "sessiondEncHashCommit",
    touch: "sessiondEncHashTouch",
  },
  decodeRead(reply) {
    const [version, createTime, expireTime, flat] = reply as [string, string, string, string[]];
    return {
      version: Number(version),
      createTime: Number(createTime),
      expireTime: Number(expireTime),
      data: dataFrom(fields(flat)),
    };
  },
  async peek(c, key, field) {
    // One HMGET, whose metadata field says whether the session still exists.
    const [meta, text] = await c.hmget(key, "", field);
    return meta === null || meta === undefined ? undefined : { text: text ?? null };
  },
  async slide(c, key, field, ttl) {
    const [text, slid] = await Promise.all([c.hget(key, field), c.pexpire(key, ttl)]);
    return Number(slid) === 1 ? { text } : undefined;
  },
};

/** HGETALL's flat [field, value, ...] without the metadata field "". */
function* fields(flat: string[]): Generator<[string, string]> {
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i] as string;
    if (field !== "") yield [field, flat[i + 1] as string];
  }
}

/** Builds a record from parsed entries without ever assigning through `__proto__`. */
export function dataFrom(entries: Iterable<[string, string]>): SessionData {
  const data: SessionData = {};
  for (const [key, text] of entries) {
    Object.defineProperty(data, key, {
      value: JSON.parse(text) as JsonValue,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return data;
}

/** Stored text that does not parse is a bug or tampering, never the caller's fault. */
export function decode<T>(fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new SessionError("internal", "internal error", {
      cause: new Error("redis storage: stored session does not decode", { cause: err }),
    });
  }
}
