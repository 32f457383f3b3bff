import { cloneJson, type JsonValue, type SessionData } from "../core/json.js";
import type { CallSignal, KeyRead, ReadOptions, SessionRecord } from "../core/storage/Storage.js";
import { checkKey, expiryArgs } from "./applyArgs.js";
import {
  EncryptedRedisStorageBase,
  type Loaded,
  type Lock,
  malformed,
} from "./EncryptedRedisStorageBase.js";

const AAD = "sessiond-redis/1 kv ";

/**
 * `redis` with encryption at rest: one string per session (the plain layout's key),
 * holding `<version> <createTime> <base64 of the sealed document>`. The document (every
 * key and value) is sealed with AES-256-GCM, bound to the session's Redis key, so a value
 * copied to another session's key does not open. Version and creation time stay readable
 * for the scripts (expiry, compare-and-set); they say nothing about the session's content.
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

  protected async load(key: string, signal?: CallSignal): Promise<Loaded | undefined> {
    const raw = await this.run((c) => c.get(key), key, false, signal);
    if (typeof raw !== "string") return undefined;
    return this.#decode(key, idOf(key), raw);
  }

  protected async commit(
    key: string,
    current: Loaded | undefined,
    data: SessionData,
    version: number,
    lock: Lock,
    tail: readonly string[] = [],
  ): Promise<unknown> {
    const sealed = this.seal(JSON.stringify(data), AAD + key);
    const args = [...lock.args, lock.token, current?.state ?? "", String(version), sealed];
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
    const sealed = this.seal(JSON.stringify(current.data), AAD + to);
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
    const text = this.open(sealed, AAD + key, id);
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
      stale: this.sealedByOldKey(sealed),
    };
  }
}

/** The session part of a key, for log lines (which show only its first characters). */
function idOf(key: string): string {
  return key.slice(key.indexOf("}") + 1);
}
