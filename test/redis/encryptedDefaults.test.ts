/**
 * The encrypted Redis storages' defaults, as their options document them: silent without a
 * logger (as every other storage), and keys as 32-byte Buffers only (text is refused).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { after, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Redis } from "ioredis";
import { ConfigError } from "../../src/core/ConfigError.js";
import { EncryptedRedisHashStorage } from "../../src/redis/storage/EncryptedRedisHashStorage.js";
import { EncryptedRedisStorage } from "../../src/redis/storage/EncryptedRedisStorage.js";
import { startRedis } from "../support/redisServers.js";
import { REDIS_KINDS } from "../support/redisStorages.js";

const redis = await startRedis();
after(() => redis.stop());

const probe = fileURLToPath(new URL("../support/undecryptableRead.ts", import.meta.url));

describe("encrypted redis storage defaults", () => {
  for (const kind of REDIS_KINDS) {
    test(`${kind}: without a logger, a value that does not decrypt fails the call and writes nothing to stderr`, () => {
      const child = spawnSync(process.execPath, ["--import", "tsx", probe, redis.url, kind], {
        encoding: "utf8",
        timeout: 30_000,
      });
      assert.equal(child.status, 0, child.stderr);
      // The failure the logger would have reported did happen.
      assert.equal(child.stdout.trim(), "internal");
      assert.equal(child.stderr, "");
    });
  }

  test("keys as hex or base64 text are refused, as the option says; 32-byte Buffers are taken", async () => {
    const key = randomBytes(32);
    for (const text of [key.toString("hex"), key.toString("base64")]) {
      for (const Kind of [EncryptedRedisStorage, EncryptedRedisHashStorage]) {
        assert.throws(
          () =>
            new Kind(new Redis(redis.url, { lazyConnect: true }), {
              encryptionKeys: [text as unknown as Uint8Array],
            }),
          (err: unknown) =>
            err instanceof ConfigError &&
            err.option === "encryptionKeys[0]" &&
            /32-byte Buffer/.test(err.message),
        );
      }
    }
    const storage = new EncryptedRedisStorage(new Redis(redis.url), {
      encryptionKeys: [key],
      ownsClient: true,
    });
    await storage.ping();
    await storage.close();
  });
});
