import { SessionError } from "../core/SessionError.js";
import type { IdHashKeyLookup } from "../core/storage/HashedIdStorage.js";
import { newIdHashKeyText, parseIdHashKeyText } from "../core/storage/idHashKeyText.js";
import type { RedisConnection } from "./client/RedisConnection.js";

/** Under the prefix, outside every session's `{family}` slot. */
export const ID_HASH_KEY_NAME = "id-hash-key";

interface KeyCommands {
  set(key: string, value: string, nx: "NX"): Promise<string | null>;
  get(key: string): Promise<string | null>;
}

/**
 * The id-hash key kept in Redis itself, for deployments that give none: the first instance
 * to start creates it (SET NX) and every other one reads the same, so several instances
 * agree with no set-up. A dump then holds the key, but HMAC is one-way: the key lets one
 * check a guessed id, never recover one.
 *
 * Every ping puts it back (SET NX) should it have been lost (an eviction policy, a
 * FLUSHDB), and fails when Redis holds a different key than this instance uses: instances
 * that disagree cannot find each other's sessions, so this one reports itself unhealthy
 * rather than serving half the sessions (give every instance --id-hash-key-file instead).
 */
export function redisIdHashKey(connection: RedisConnection, prefix: string): IdHashKeyLookup {
  const name = `${prefix}${ID_HASH_KEY_NAME}`;
  const commands = (c: unknown) => c as KeyCommands;
  const fetch = async (candidate: string): Promise<string> => {
    const [, stored] = await connection.run(
      (c) => Promise.all([commands(c).set(name, candidate, "NX"), commands(c).get(name)]),
      { key: name, write: true },
    );
    if (typeof stored !== "string") {
      throw new SessionError("unavailable", `redis lost ${name} as soon as it was written`, {
        reason: "STORAGE_UNAVAILABLE",
      });
    }
    return stored;
  };
  const parse = (text: string): Buffer => {
    const key = parseIdHashKeyText(text);
    if (!key) {
      throw new SessionError(
        "internal",
        `redis key ${name} does not hold an id-hash key (hex or base64 of at least 32 bytes)`,
      );
    }
    return key;
  };
  let loaded: string | undefined;
  return {
    async load() {
      loaded = await fetch(newIdHashKeyText().trim());
      return parse(loaded);
    },
    async verify(key) {
      const stored = await fetch(loaded ?? key.toString("hex"));
      if (!parse(stored).equals(key)) {
        throw new SessionError(
          "unavailable",
          `redis key ${name} holds a different id-hash key than this instance uses (it was lost and recreated?): instances disagree on where sessions are; give every instance the same --id-hash-key-file`,
          { reason: "STORAGE_UNAVAILABLE" },
        );
      }
    },
  };
}
