import { assignKey, type JsonValue, type SessionData } from "../core/json.js";
import type { CallSignal, KeyRead, ReadOptions, SessionRecord } from "../core/storage/Storage.js";
import { checkKey, expiryArgs } from "./applyArgs.js";
import {
  EncryptedRedisStorageBase,
  type Loaded,
  type Lock,
  malformed,
} from "./EncryptedRedisStorageBase.js";

const AAD = "sessiond-redis/1 hash ";
const META = /^(\d+) (\d+) (\d+)$/;

/**
 * `redis-hash` with encryption at rest: the plain layout (one hash per session, metadata
 * field "" = "<version> <createTime> <bytes>"), each value sealed on its own with
 * AES-256-GCM and bound to its session's Redis key and its field, so a value moved to
 * another key or session does not open. Reading one key stays one field read; a write
 * reads and decrypts the session, applies the delta in Node, and writes back only the
 * fields it changed (compare-and-set on the metadata).
 *
 * Key names stay readable, as the field names: the values are what is sealed.
 */
export class EncryptedRedisHashStorage extends EncryptedRedisStorageBase {
  protected readonly touchScript = "sessiondEncHashTouch" as const;

  keyOf(id: string): string {
    return this.keys.hash(id);
  }

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    const key = this.keyOf(id);
    const args = expiryArgs(expiry);
    const reply = await this.run(
      (c) => c.sessiondEncHashRead(key, args),
      key,
      false,
      expiry.signal,
    );
    if (!reply) return undefined;
    const [meta, expireTime, flat] = reply as [string, string, string[]];
    const loaded = this.#decode(key, meta, flat);
    if (loaded.stale) this.resealLater(key, expiry);
    return {
      version: loaded.version,
      createTime: loaded.createTime,
      expireTime: Number(expireTime),
      data: loaded.data,
    };
  }

  async readKey(id: string, key: string, expiry: ReadOptions): Promise<KeyRead | undefined> {
    const field = checkKey(key);
    const hash = this.keyOf(id);
    const args = expiryArgs(expiry);
    args.push(field);
    const reply = await this.run(
      (c) => c.sessiondEncHashReadKey(hash, args),
      hash,
      false,
      expiry.signal,
    );
    if (!reply) return undefined;
    const [found, sealed] = reply as [number, string | undefined];
    if (Number(found) !== 1) return { found: false };
    const value = parse(this.#open(hash, field, sealed as string));
    if (this.sealedByOldKey(sealed as string)) this.resealLater(hash, expiry);
    return { found: true, value };
  }

  protected async load(key: string, signal?: CallSignal): Promise<Loaded | undefined> {
    const flat = (await this.run((c) => c.call("HGETALL", key), key, false, signal)) as string[];
    let meta: string | undefined;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      if (flat[i] === "") meta = flat[i + 1];
    }
    return meta === undefined ? undefined : this.#decode(key, meta, flat);
  }

  protected async commit(
    key: string,
    current: Loaded | undefined,
    data: SessionData,
    version: number,
    lock: Lock,
    tail: readonly string[] = [],
  ): Promise<unknown> {
    const before = current?.texts ?? new Map<string, string>();
    const gone: string[] = [];
    for (const field of Object.keys(current?.data ?? {})) {
      if (!Object.hasOwn(data, field)) gone.push(field);
    }
    const pairs: string[] = [];
    let bytes = 0;
    for (const [field, value] of Object.entries(data)) {
      const text = JSON.stringify(value);
      bytes += Buffer.byteLength(field, "utf8") + Buffer.byteLength(text, "utf8");
      if (before.get(field) !== text) pairs.push(field, this.seal(text, aad(key, field)));
    }
    const args = [
      ...lock.args,
      lock.token,
      current?.state ?? "",
      String(version),
      String(bytes),
      String(tail.length),
      ...tail,
      String(gone.length),
      ...gone,
      ...pairs,
    ];
    return this.run(
      (c) => c.sessiondEncHashWrite(key, lock.key, lock.records, args),
      key,
      true,
      lock.signal,
    );
  }

  protected async move(
    from: string,
    to: string,
    current: Loaded,
    keepOld: boolean,
    lock: Lock,
  ): Promise<unknown> {
    const args = [...lock.args, lock.token, current.state, keepOld ? "1" : ""];
    for (const [field, value] of Object.entries(current.data)) {
      args.push(field, this.seal(JSON.stringify(value), aad(to, field)));
    }
    return this.run(
      (c) => c.sessiondEncHashRegenerate(from, to, lock.key, lock.records, args),
      from,
      true,
      lock.signal,
    );
  }

  #decode(key: string, meta: string, flat: string[]): Loaded {
    const match = META.exec(meta);
    if (!match) throw malformed("an encrypted session's metadata is malformed");
    const data: SessionData = {};
    const texts = new Map<string, string>();
    let stale = false;
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = flat[i] as string;
      if (field === "") continue;
      const sealed = flat[i + 1] as string;
      const text = this.#open(key, field, sealed);
      // Left out when under an older key: the next write, whatever it changes, seals it anew.
      if (this.sealedByOldKey(sealed)) stale = true;
      else texts.set(field, text);
      assignKey(data, field, parse(text));
    }
    return {
      state: meta,
      version: Number(match[1]),
      createTime: Number(match[2]),
      data,
      texts,
      stale,
    };
  }

  #open(key: string, field: string, sealed: string): string {
    return this.open(sealed, aad(key, field), key.slice(key.indexOf("}") + 1), field);
  }
}

/** A Redis key holds no newline (prefix and id are checked), so this split is unambiguous. */
function aad(key: string, field: string): string {
  return `${AAD}${key}\n${field}`;
}

function parse(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    throw malformed("a decrypted value is not JSON");
  }
}
