/**
 * Security round 2, finding 5 at rest: a real server (Redis with encryption keys, and the
 * file storage) answers a Set made under a guessable request id; an attacker who then
 * holds the whole dump (every Redis key with its contents, or every file of the storage's
 * directory) and the request id can neither find the request's record by the name a plain
 * hash of the request id gives, nor open the issued session id with a key derived from the
 * request id alone (the scheme before records were keyed with the server's secret). As a
 * control, the server itself still replays the request from its record.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Redis } from "ioredis";
import type { ServerConfig } from "../../src/server/config/ServerConfig.js";
import { startServer } from "../../src/server/startServer.js";
import { oldRecordName, unsealWithRequestIdAlone } from "../support/oldRequestIdScheme.js";
import { startRedis } from "../support/redisServers.js";
import { uniquePrefix } from "../support/redisStorages.js";
import { sessionClient, unary } from "../support/serverClients.js";

const RID = "checkout-0000000000473921";

const redis = await startRedis();
after(() => redis.stop());

/** Every key of the Redis dataset with its contents, as an attacker's SCAN + GET/HGETALL. */
async function redisDump(): Promise<string[]> {
  const connection = new Redis(redis.url);
  connection.on("error", () => {});
  try {
    const out: string[] = [];
    for (const key of await connection.keys("*")) {
      out.push(key);
      const type = await connection.type(key);
      if (type === "string") out.push((await connection.getBuffer(key))?.toString("latin1") ?? "");
      else if (type === "hash") {
        const hash = await connection.hgetallBuffer(key);
        for (const [field, value] of Object.entries(hash))
          out.push(field, value.toString("latin1"));
      } else out.push(`(${type})`);
    }
    return out;
  } finally {
    connection.disconnect();
  }
}

/** Every file name and content of `dir`, as a copy of the directory gives them. */
function fileDump(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" }).flatMap((name) => {
    try {
      return [name, readFileSync(join(dir, name), "latin1")];
    } catch {
      return [name]; // a directory
    }
  });
}

const CASES: [string, () => Partial<ServerConfig>, (config: ServerConfig) => Promise<string[]>][] =
  [
    [
      "redis, encrypted",
      () => ({
        storage: "redis",
        redisUrl: redis.url,
        redisPrefix: uniquePrefix(),
        encryptionKeys: [randomBytes(32)],
      }),
      () => redisDump(),
    ],
    [
      "file",
      () => ({ storage: "file", fileDir: mkdtempSync(join(tmpdir(), "sessiond-rr-at-rest-")) }),
      async (config) => fileDump(config.fileDir),
    ],
  ];

describe("request records at rest: a dump plus the request id", () => {
  for (const [name, configure, dump] of CASES) {
    test(`${name}: finds no record by the request id's plain hash and opens no session id`, async () => {
      const server = await startServer({ port: 0, ...configure() });
      const client = sessionClient(server.address);
      try {
        const request = { key: "cart", value: "3 items", requestId: RID };
        const first = await unary(client, client.set, request);
        const id = first.response.sessionId;
        assert.match(id, /^[0-9a-z]{32}$/);
        // Control: the record is there, and the server finds it (a retry gets the same id).
        const retry = await unary(client, client.set, request);
        assert.equal(retry.response.sessionId, id);

        const texts = await dump(server.config);
        assert.ok(texts.length > 0);
        const all = texts.join("\n");
        assert.ok(!all.includes(id), "the issued id is nowhere in clear");
        assert.ok(!all.includes(RID), "the request id is nowhere in clear");
        // Both in one assertion, so that a failure shows what each attack got.
        assert.deepEqual(
          {
            recordByPlainHash: all.includes(oldRecordName(RID)),
            unsealedIds: unsealWithRequestIdAlone(texts, RID),
          },
          { recordByPlainHash: false, unsealedIds: [] },
        );
      } finally {
        client.close();
        await server.shutdown();
        if (server.config.storage === "file") {
          rmSync(server.config.fileDir, { recursive: true, force: true });
        }
      }
    });
  }
});
