import { cloneJson, type JsonValue, type SessionData } from "../../core/json.js";
import type {
  CallSignal,
  KeyRead,
  ReadOptions,
  SessionRecord,
} from "../../core/storage/Storage.js";
import { checkKey, expiryArgs } from "./applyArgs.js";
import {
  EncryptedRedisStorageBase,
  type Loaded,
  type LoadedOrMissing,
  type Lock,
  malformed,
} from "./EncryptedRedisStorageBase.js";

const AAD = "sessiond-redis/2 kv ";
/** The format before seals were bound to version and creation time; read for this release. */
const LEGACY_AAD = "sessiond-redis/1 kv ";

/**
 * `redis` with encryption at rest: one string per session (the plain layout's key),
 * holding `<version> <createTime> <base64 of the sealed document>`. The document (every
 * key and value) is sealed with AES-256-GCM, bound to the session's Redis key, version
 * and creation time: a document copied to another session's key, put back under a later
 * version, or left under a moved creation time (which would restart the absolute
 * lifetime) does not open. Version and creation time stay readable for the scripts
 * (expiry, compare-and-set); they say nothing about the session's content.
 */
export class EncryptedRedisStorage extends EncryptedRedisStorageBase {
  protected readonly touchScript = "sessiondEncKvTouch" as const;

  keyOf(id: string): string {
    return this.keys.kv(id);
  }

  async read(id: string, expiry: ReadOptions): Promise<SessionRecord | undefined> {
    const key = this.keyOf(id);
    const args = expiryArgs(expiry);
    const reply = await this.run((c) => c.sessiondEncKvRead(key, args), key, false, expiry.signal);
    if (!reply) return undefined;
    const [raw, expireTime] = reply as [string, string];
    const loaded = this.#decode(key, id, raw);
    if (loaded.stale) this.resealLater(key, expiry);
    return {
      version: loaded.version,
      createTime: loaded.createTime,
      expireTime: Number(expireTime),
      data: loaded.data,
    };
  }

  async readKey(id: string, key: string, expiry: ReadOptions): Promise<KeyRead | undefined> {
    checkKey(key);
    const record = await this.read(id, expiry);
    if (!record) return undefined;
    return Object.hasOwn(record.data, key)
      ? { found: true, value: cloneJson(record.data[key] as JsonValue) }
      : { found: false };
  }

  protected async load(key: string, signal?: CallSignal): Promise<LoadedOrMissing> {
    const reply = await this.run((c) => c.sessiondEncKvLoad(key, []), key, false, signal);
    const [raw, now] = reply as [string | null, string];
    const current = typeof raw === "string" ? this.#decode(key, idOf(key), raw) : undefined;
    return { current, now: Number(now) };
  }

  protected async commit(
    key: string,
    current: Loaded | undefined,
    data: SessionData,
    version: number,
    createTime: number,
    lock: Lock,
    tail: readonly string[] = [],
  ): Promise<unknown> {
    const sealed = this.seal(JSON.stringify(data), aad(key, version, createTime));
    const state = current?.state ?? "";
    const args = [...lock.args, lock.token, state, String(version), String(createTime), sealed];
    args.push(...tail);
    return this.run(
      (c) => c.sessiondEncKvWrite(key, lock.key, lock.records, args),
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
    // The new session starts at version 1 with the old one's creation time (the script's).
    const sealed = this.seal(JSON.stringify(current.data), aad(to, 1, current.createTime));
    const args = [...lock.args, lock.token, current.state, sealed, keepOld ? "1" : ""];
    return this.run(
      (c) => c.sessiondEncKvRegenerate(from, to, lock.key, lock.records, args),
      from,
      true,
      lock.signal,
    );
  }

  #decode(key: string, id: string, raw: string): Loaded {
    const match = /^(\d+) (\d+) ([A-Za-z0-9+/=]+)$/.exec(raw);
    if (!match) throw malformed("an encrypted session is not in the encrypted layout");
    const [, version, createTime, sealed] = match as unknown as [string, string, string, string];
    const { text, legacy } = this.openBound(
      sealed,
      aad(key, Number(version), Number(createTime)),
      LEGACY_AAD + key,
      id,
    );
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      throw malformed("a decrypted session is not JSON");
    }
    if (typeof data !== "object" || data === null || Array.isArray(data)) {
      throw malformed("a decrypted session is not an object");
    }
    return {
      state: `${version} ${createTime}`,
      version: Number(version),
      createTime: Number(createTime),
      data: data as SessionData,
      stale: legacy || this.sealedByOldKey(sealed),
    };
  }
}

/**
 * The document's associated data: its key, version and creation time, as the clear prefix
 * has them (a Redis key holds no newline: prefix and id are checked).
 */
function aad(key: string, version: number, createTime: number): string {
  return `${AAD}${key}\n${version} ${createTime}`;
}

/** The session part of a key, for log lines (which show only its first characters). */
function idOf(key: string): string {
  return key.slice(key.indexOf("}") + 1);
}
