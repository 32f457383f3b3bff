// startServer() in-process: what other engineers and benchmarks rely on, and health that
// follows a real storage's reachability.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  Client,
  credentials,
  Metadata,
  makeClientConstructor,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { ConfigError, parseConfig } from "../../src/server/config.js";
import { startServer } from "../../src/server/startServer.js";
import { startRedis } from "../support/redisServers.js";
import { checkHealth, sessionClient, unary, waitForHealth } from "../support/serverClients.js";

const SERVICE = "sessiond.v1.SessionService";

describe("startServer", () => {
  test("binds port 0 to a real port, serves calls, and shuts down idempotently", async () => {
    const running = await startServer({ port: 0, storage: "memory" });
    assert.ok(running.port > 0);
    assert.equal(running.address, `127.0.0.1:${running.port}`);
    assert.equal(await checkHealth(running.address, ""), "SERVING");
    const client = sessionClient(running.address);
    try {
      const { response, headers } = await unary(client, client.set, { key: "a", value: 1 });
      assert.deepEqual(headers.get("x-session-id"), [response.sessionId]);
      const got = await unary(client, client.get, { key: "a" }, response.sessionId);
      assert.deepEqual(got.response, { value: 1, found: true });
    } finally {
      client.close();
    }
    const first = running.shutdown();
    assert.equal(running.shutdown(), first);
    await first;
    await assert.rejects(checkHealth(running.address, ""), { code: 14 });
  });

  test("health and reflection calls pass the session interceptor untouched (a stray bad id is fine)", async () => {
    const running = await startServer({ port: 0, storage: "memory" });
    try {
      const metadata = new Metadata();
      metadata.set("x-session-id", "../not-an-id");
      assert.equal(await checkHealth(running.address, "", metadata), "SERVING");
      // The same id on a SessionService call is refused before any handler runs.
      const client = sessionClient(running.address);
      await assert.rejects(unary(client, client.get, { key: "a" }, "../not-an-id"), { code: 3 });
      client.close();
    } finally {
      await running.shutdown();
    }
  });

  test("serves the strict SessionService definition: undecodable bytes are INVALID_ARGUMENT", async () => {
    const running = await startServer({ port: 0, storage: "memory" });
    const client = new Client(running.address, credentials.createInsecure());
    try {
      // Field 1 claims 5 bytes of string but 1 follows (the generated decoder throws: INTERNAL).
      const bytes = Buffer.from([0x0a, 0x05, 0x61]);
      await assert.rejects(
        new Promise((resolve, reject) =>
          client.makeUnaryRequest(
            "/sessiond.v1.SessionService/Set",
            (b: Buffer) => b,
            (b: Buffer) => b,
            bytes,
            (err, value) => (err ? reject(err) : resolve(value)),
          ),
        ),
        { code: 3 },
      );
    } finally {
      client.close();
      await running.shutdown();
    }
  });

  test("a health Watch sees NOT_SERVING at shutdown and does not hold the drain", async () => {
    const warnings: string[] = [];
    const logger = { info() {}, warn: (msg: string) => warnings.push(msg), error() {} };
    const running = await startServer({ port: 0, storage: "memory" }, { logger });
    const Health = makeClientConstructor(healthService as ServiceDefinition, "Health");
    const client = new Health(running.address, credentials.createInsecure()) as unknown as {
      watch(request: { service: string }): NodeJS.EventEmitter;
      close(): void;
    };
    const seen: string[] = [];
    const watch = client.watch({ service: "" });
    const ended = new Promise<{ code: number }>((resolve) => watch.on("status", resolve));
    const serving = new Promise<void>((resolve) =>
      watch.on("data", (msg: { status: string }) => {
        seen.push(msg.status);
        if (msg.status === "SERVING") resolve();
      }),
    );
    watch.on("error", () => {});
    await serving;
    // With the watch left open, a drain would wait out the whole grace period and warn.
    await running.shutdown(5000);
    assert.deepEqual(warnings, []);
    assert.deepEqual(seen, ["SERVING", "NOT_SERVING"]);
    assert.equal((await ended).code, 0);
    client.close();
  });

  test("uses the configured metadata key and leaves a caller's storage open", async () => {
    const storage = new MemoryStorage();
    const running = await startServer({ port: 0, metadataKey: "x-sid" }, { storage });
    const client = sessionClient(running.address);
    try {
      const { response, headers } = await unary(client, client.set, { key: "a", value: 1 });
      assert.deepEqual(headers.get("x-sid"), [response.sessionId]);
      assert.deepEqual(headers.get("x-session-id"), []);
    } finally {
      client.close();
      await running.shutdown();
    }
    assert.equal(storage.size, 1, "the caller's storage was closed (cleared) by shutdown");
    await storage.close();
  });

  test("a second server on a taken port fails to start, and cleans up", async () => {
    const first = await startServer({ port: 0, storage: "memory" });
    try {
      await assert.rejects(startServer({ port: first.port, storage: "memory" }), /bind|address/i);
    } finally {
      await first.shutdown();
    }
  });

  test("file storage gets the configured directory and encryption key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sessiond-start-file-"));
    const key = randomBytes(32).toString("hex");
    const settings = { port: 0, storage: "file" as const, fileDir: dir };
    try {
      let running = await startServer({ ...settings, fileEncryptionKey: Buffer.from(key, "hex") });
      let client = sessionClient(running.address);
      const secret = "plaintext-that-must-not-reach-the-disk";
      const { response } = await unary(client, client.set, { key: "s", value: secret });
      client.close();
      await running.shutdown();
      const files = await readdir(dir);
      assert.ok(files.length > 0, "nothing written to the configured directory");
      for (const file of files) {
        assert.ok(!(await readFile(join(dir, file), "utf8")).includes(secret), file);
      }
      // The same key, through the parser as an operator would give it, reads it back.
      const { config } = parseConfig(["--file-dir", dir], {
        SESSIOND_FILE_ENCRYPTION_KEY: key,
      });
      running = await startServer({ ...config, port: 0 });
      client = sessionClient(running.address);
      const got = await unary(client, client.get, { key: "s" }, response.sessionId);
      assert.deepEqual(got.response, { value: secret, found: true });
      client.close();
      await running.shutdown();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("contradictory Redis settings are a ConfigError", async () => {
    await assert.rejects(
      startServer({
        storage: "redis",
        redisClusterNodes: [{ host: "a", port: 1 }],
        redisUrl: "redis://b:2",
      }),
      (err) => err instanceof ConfigError && /SESSIOND_REDIS_URL/.test(err.message),
    );
  });
});

describe("health follows storage.ping()", () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  for (const storage of ["redis", "redis-hash"] as const) {
    test(`${storage}: SERVING, NOT_SERVING while redis-server is down, SERVING again`, async () => {
      const redis = await startRedis();
      cleanups.push(() => redis.stop());
      const running = await startServer({
        port: 0,
        storage,
        redisUrl: redis.url,
        redisTimeoutMs: 200,
        healthCheckIntervalMs: 100,
      });
      cleanups.push(() => running.shutdown());
      assert.equal(await checkHealth(running.address, ""), "SERVING");
      assert.equal(await checkHealth(running.address, SERVICE), "SERVING");

      await redis.kill();
      await waitForHealth(running.address, "", "NOT_SERVING");
      assert.equal(await checkHealth(running.address, SERVICE), "NOT_SERVING");

      await redis.restart();
      await waitForHealth(running.address, "", "SERVING");
      assert.equal(await checkHealth(running.address, SERVICE), "SERVING");
    });
  }

  test("a storage that is down at start-up: listening, but NOT_SERVING", async () => {
    const redis = await startRedis();
    await redis.kill();
    cleanups.push(() => redis.stop());
    const running = await startServer({
      port: 0,
      storage: "redis",
      redisUrl: redis.url,
      redisTimeoutMs: 200,
      healthCheckIntervalMs: 100,
    });
    cleanups.push(() => running.shutdown());
    assert.equal(await checkHealth(running.address, ""), "NOT_SERVING");
    await redis.restart();
    await waitForHealth(running.address, SERVICE, "SERVING");
  });
});
