/**
 * Child process of test/redis/encryptedDefaults.test.ts: writes a session under one key and
 * reads it back under another, through storages given no logger, so that whatever the
 * storage logs by default (a value that does not decrypt is logged) reaches this process's
 * stderr. Prints the read's error code on stdout.
 * Usage: node --import tsx undecryptableRead.ts <redis url> <redis | redis-hash>
 */
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { defaultLimits } from "../../src/core/Limits.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { EncryptedRedisHashStorage } from "../../src/redis/storage/EncryptedRedisHashStorage.js";
import { EncryptedRedisStorage } from "../../src/redis/storage/EncryptedRedisStorage.js";

const [url, kind] = process.argv.slice(2);
const Kind = kind === "redis" ? EncryptedRedisStorage : EncryptedRedisHashStorage;
const prefix = `t${randomBytes(6).toString("hex")}:`;
const open = (key: Buffer) =>
  new Kind(new Redis(url as string), { prefix, ownsClient: true, encryptionKeys: [key] });
const writer = open(randomBytes(32));
const reader = open(randomBytes(32));
const id = newSessionId();
const options = { mode: "create" as const, ttlMs: 60_000, limits: defaultLimits };
try {
  await writer.apply(id, { ops: [{ type: "set", key: "k", value: 1 }] }, options);
  await reader.read(id, options);
  process.stdout.write("read\n");
} catch (err) {
  process.stdout.write(`${err instanceof SessionError ? err.code : String(err)}\n`);
} finally {
  await writer.close();
  await reader.close();
}
