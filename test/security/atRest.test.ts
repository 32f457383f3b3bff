/**
 * Issue 10, at rest: after a scripted run through the real server process on each storage
 * (file, redis, redis-hash, encryption on), nothing an operator or a thief could read —
 * the Redis dataset (SCAN, then DUMP and GET/HGETALL of every key), a MONITOR trace taken
 * during the runs, the file storage's directory (names and contents), the server's logs —
 * holds a session id or a stored value in plain text. As a control, the names the ids are
 * stored under (computed with the id-hash key the server kept) are found there.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { parseIdHashKeyText } from "../../src/core/storage/idHashKeyText.js";
import type { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { uniquePrefix } from "../support/redisStorages.js";
import { sessionClient, unary } from "../support/serverClients.js";
import { ServerProcess } from "../support/serverProcess.js";

const KINDS = ["file", "redis", "redis-hash"] as const;
type Kind = (typeof KINDS)[number];

interface Run {
  kind: Kind;
  /** Every session id the server handed out, live or since destroyed. */
  ids: string[];
  /** Ids still live at the end. */
  live: string[];
  /** Plain-text values written. */
  values: string[];
  logs: string;
  where: { dir?: string; prefix?: string };
}

/** Everything a MONITOR connection receives, from when it is opened. */
function monitor(port: number): Promise<{ text: () => string; close: () => void }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket: Socket = connect(port, "127.0.0.1", () => socket.write("MONITOR\r\n"));
    socket.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      if (chunks.length === 1) {
        resolve({
          text: () => Buffer.concat(chunks).toString("latin1"),
          close: () => socket.destroy(),
        });
      }
    });
    socket.on("error", reject);
  });
}

/** The session ids in `text` (32 characters of [0-9a-z], as the server issues them). */
function found(text: string, needles: readonly string[]): string[] {
  return needles.filter((needle) => text.includes(needle));
}

/** One of everything a client does, through the real server. */
async function scriptedRun(client: SessionServiceClient, tag: string) {
  const values = Array.from(
    { length: 5 },
    (_, i) => `plain-${tag}-${i}-${randomBytes(6).toString("hex")}`,
  );
  const [v0, v1, v2, v3, v4] = values as [string, string, string, string, string];
  const id1 = (await unary(client, client.set, { key: "a", value: v0 })).response.sessionId;
  await unary(client, client.setMap, { data: { b: v1, c: { nested: v2 } } }, id1);
  assert.deepEqual((await unary(client, client.get, { key: "a" }, id1)).response, {
    value: v0,
    found: true,
  });
  await unary(client, client.getData, {}, id1);
  await unary(client, client.contains, { key: "b" }, id1);
  await unary(client, client.increment, { key: "n", delta: 2 }, id1);
  await unary(client, client.touch, {}, id1);
  await unary(client, client.describe, {}, id1);
  const id2 = (await unary(client, client.regenerate, { keepOld: false }, id1)).response.sessionId;
  const id3 = (await unary(client, client.regenerate, { keepOld: true }, id2)).response.sessionId;
  await unary(client, client.set, { key: "d", value: v3 }, id3);
  await unary(client, client.remove, { keys: ["b"] }, id3);
  const id4 = (await unary(client, client.set, { key: "e", value: v4 })).response.sessionId;
  await unary(client, client.removeAll, {}, id4);
  const kept = await unary(client, client.getData, {}, id2);
  assert.equal((kept.response.data as Record<string, unknown>).a, v0, "the kept copy reads");
  const moved = await unary(client, client.getData, {}, id3);
  assert.equal((moved.response.data as Record<string, unknown>).d, v3);
  assert.equal(new Set([id1, id2, id3, id4]).size, 4);
  return { ids: [id1, id2, id3, id4], live: [id2, id3], values };
}

describe("at rest: no session id and no plain value in what the storage keeps", () => {
  let redis: RedisProcess;
  let admin: Redis;
  let trace: { text: () => string; close: () => void };
  let base: string;
  const runs: Run[] = [];
  const keys = [randomBytes(32).toString("hex"), randomBytes(32).toString("hex")];

  before(async () => {
    redis = await startRedis();
    admin = new Redis(redis.url);
    trace = await monitor(redis.port);
    base = await mkdtemp(join(tmpdir(), "sessiond-atrest-"));
    await Promise.all(
      KINDS.map(async (kind) => {
        const where =
          kind === "file" ? { dir: join(base, "sessions") } : { prefix: uniquePrefix() };
        const env: Record<string, string> = {
          SESSIOND_STORAGE: kind,
          SESSIOND_ENCRYPTION_KEYS: keys.join(","),
          ...(where.dir === undefined
            ? { SESSIOND_REDIS_URL: redis.url, SESSIOND_REDIS_PREFIX: where.prefix as string }
            : { SESSIOND_FILE_DIR: where.dir }),
        };
        const server = await ServerProcess.start([], env);
        const client = sessionClient(server.address);
        try {
          const result = await scriptedRun(client, kind);
          client.close();
          await server.stop();
          runs.push({ kind, ...result, logs: server.lines.join("\n"), where });
        } catch (err) {
          client.close();
          await server.stop();
          throw new Error(`${kind}: ${String(err)}\n${server.lines.join("\n")}`, { cause: err });
        }
      }),
    );
  });

  after(async () => {
    trace?.close();
    admin?.disconnect();
    await redis?.stop();
    if (base) await rm(base, { recursive: true, force: true });
  });

  /** Names sessions are stored under, with the key the server kept. */
  async function storedNames(key: Buffer, ids: readonly string[]): Promise<string[]> {
    const hashed = new HashedIdStorage(new MemoryStorage(), key);
    const names = await Promise.all(ids.map((id) => hashed.storedId(id)));
    await hashed.close();
    return names;
  }

  async function redisDataset(): Promise<string> {
    const parts: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await admin.scan(cursor, "COUNT", 1000);
      cursor = next;
      for (const key of batch) {
        parts.push(key);
        parts.push((await admin.dumpBuffer(key))?.toString("latin1") ?? "");
        const type = await admin.type(key);
        if (type === "string") parts.push((await admin.get(key)) ?? "");
        else if (type === "hash") parts.push(JSON.stringify(await admin.hgetall(key)));
        else parts.push(`<${type}>`);
      }
    } while (cursor !== "0");
    return parts.join("\n");
  }

  test("the Redis dataset and the MONITOR trace hold no id and no value; stored names are there", async () => {
    const dataset = await redisDataset();
    const traced = trace.text();
    assert.match(traced, /"evalsha"/i, "MONITOR saw the scripts run");
    for (const run of runs.filter((r) => r.kind !== "file")) {
      const idKey = await admin.get(`${run.where.prefix}id-hash-key`);
      assert.ok(idKey, `${run.kind}: the id-hash key is kept in Redis under the prefix`);
      const names = await storedNames(parseIdHashKeyText(idKey) as Buffer, run.live);
      assert.deepEqual(found(dataset, names), names, `${run.kind}: control, stored names listed`);
      assert.deepEqual(found(traced, names), names, `${run.kind}: control, stored names traced`);
      assert.deepEqual(found(dataset, run.ids), [], `${run.kind}: ids in the dataset`);
      assert.deepEqual(found(traced, run.ids), [], `${run.kind}: ids in the MONITOR trace`);
      assert.deepEqual(found(dataset, run.values), [], `${run.kind}: values in the dataset`);
      assert.deepEqual(found(traced, run.values), [], `${run.kind}: values in the MONITOR trace`);
    }
  });

  test("the file storage's directory holds no id and no value, in names or contents", async () => {
    const run = runs.find((r) => r.kind === "file") as Run;
    const dir = run.where.dir as string;
    const files = readdirSync(dir);
    const listing = files.join("\n");
    const contents = files.map((f) => readFileSync(join(dir, f)).toString("latin1")).join("\n");
    const key = parseIdHashKeyText(readFileSync(join(dir, ".id-hash-key"), "utf8")) as Buffer;
    const names = await storedNames(key, run.live);
    assert.deepEqual(
      found(
        listing,
        names.map((n) => `${n}.session`),
      ),
      names.map((n) => `${n}.session`),
      "control: the live sessions' files are listed under their stored names",
    );
    assert.deepEqual(found(listing, run.ids), [], "ids in file names");
    assert.deepEqual(found(contents, run.ids), [], "ids in file contents");
    assert.deepEqual(found(contents, run.values), [], "values in file contents");
  });

  test("the server's logs hold no id and no value", () => {
    for (const run of runs) {
      assert.match(run.logs, /"msg":"listening"/, `${run.kind}: logs were captured`);
      assert.deepEqual(found(run.logs, run.ids), [], `${run.kind}: ids in the logs`);
      assert.deepEqual(found(run.logs, run.values), [], `${run.kind}: values in the logs`);
    }
  });
});
