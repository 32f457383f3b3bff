// startServer() in-process: what other engineers and benchmarks rely on, and health that
// follows a real storage's reachability.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import {
  Client,
  type ClientReadableStream,
  credentials,
  Metadata,
  makeClientConstructor,
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { ConfigError } from "../../src/core/ConfigError.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { addHealth, MAX_SERVICE_NAME_BYTES } from "../../src/server/health/addHealth.js";
import { startServer } from "../../src/server/startServer.js";
import { startRedis } from "../support/redisServers.js";
import { checkHealth, sessionClient, unary, waitForHealth } from "../support/serverClients.js";
import { REPO_ROOT } from "../support/serverProcess.js";

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

type HealthClient = Client & {
  check(
    request: { service: string },
    callback: (err: ServiceError | null, response?: { status: string }) => void,
  ): void;
  watch(request: { service: string }): ClientReadableStream<{ status: string }>;
};

/** addHealth alone on a grpc-js Server on 127.0.0.1, with a client of its own. */
async function healthOnly(initial: Record<string, "SERVING">) {
  const server = new Server();
  const served = addHealth(server, initial);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    ),
  );
  const Health = makeClientConstructor(healthService as ServiceDefinition, "Health");
  const client = new Health(
    `127.0.0.1:${port}`,
    credentials.createInsecure(),
  ) as unknown as HealthClient;
  return {
    served,
    client,
    check: (service: string) =>
      new Promise<string>((resolve, reject) =>
        client.check({ service }, (err, response) =>
          err ? reject(err) : resolve(response?.status ?? ""),
        ),
      ),
    /** Opens a Watch and resolves with its first status (or the error that ended it). */
    watch(service: string) {
      const call = client.watch({ service });
      const first = new Promise<string>((resolve, reject) => {
        call.once("data", (msg: { status: string }) => resolve(msg.status));
        call.once("error", reject);
      });
      const ended = new Promise<number>((resolve) => call.once("status", (s) => resolve(s.code)));
      call.on("error", () => {});
      return { call, first, ended };
    },
    close() {
      client.close();
      server.forceShutdown();
    },
  };
}

async function until(what: string, condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`hang guard: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("health service names are bounded and Watch state ends with its call", () => {
  test("Watch calls with distinct long names leave nothing behind once cancelled or ended", async () => {
    const h = await healthOnly({ "": "SERVING" });
    try {
      const names = Array.from({ length: 300 }, (_, i) =>
        `svc-${i}-`.padEnd(MAX_SERVICE_NAME_BYTES, "x"),
      );
      for (let i = 0; i < names.length; i += 50) {
        const watches = names.slice(i, i + 50).map((name) => h.watch(name));
        for (const w of watches) assert.equal(await w.first, "SERVICE_UNKNOWN");
        assert.deepEqual(h.served.watching(), { calls: 50, names: 50 });
        for (const w of watches) w.call.cancel();
        await until("cancelled Watch calls were kept", () => h.served.watching().names === 0);
      }
      // Two on one name, ended by the server (shutdown): the name goes with the last one.
      const pair = [h.watch(""), h.watch("")];
      for (const w of pair) assert.equal(await w.first, "SERVING");
      assert.deepEqual(h.served.watching(), { calls: 2, names: 1 });
      h.served.endWatches();
      for (const w of pair) assert.equal(await w.ended, 0);
      assert.deepEqual(h.served.watching(), { calls: 0, names: 0 });
    } finally {
      h.close();
    }
  });

  test("a name past the bound is INVALID_ARGUMENT, never echoed; unknown names are not echoed either", async () => {
    const h = await healthOnly({ "": "SERVING" });
    try {
      const longest = "n".repeat(MAX_SERVICE_NAME_BYTES);
      const tooLong = `${"é".repeat(MAX_SERVICE_NAME_BYTES / 2)}n`; // 257 bytes, 129 chars
      const huge = "h".repeat(2 ** 20);
      assert.equal(await h.watch(longest).first, "SERVICE_UNKNOWN");
      for (const name of [tooLong, huge]) {
        for (const attempt of [() => h.check(name), () => h.watch(name).first]) {
          await assert.rejects(attempt(), (err: ServiceError) => {
            assert.equal(err.code, 3, err.details.slice(0, 200));
            assert.equal(err.details, `service name longer than ${MAX_SERVICE_NAME_BYTES} bytes`);
            return true;
          });
        }
      }
      await assert.rejects(h.check(longest), (err: ServiceError) => {
        assert.equal(err.code, 5);
        assert.ok(!err.details.includes("nnnn"), err.details.slice(0, 200));
        assert.ok(err.details.length < 100, `${err.details.length} characters`);
        return true;
      });
      assert.equal(await h.check(""), "SERVING");
      await until("refused and open calls", () => h.served.watching().calls === 1);
    } finally {
      h.close();
    }
  });

  test("a whole server: 100 Watch calls with 1 MiB names leave no heap behind (child with --expose-gc)", async () => {
    const out = await new Promise<string>((resolve, reject) =>
      execFile(
        process.execPath,
        ["--expose-gc", "--import", "tsx", "test/support/healthWatchHeap.ts", "100", "1048576"],
        { cwd: REPO_ROOT, timeout: 120_000 },
        (err, stdout) => (err ? reject(err) : resolve(stdout)),
      ),
    );
    const result = JSON.parse(out) as { heldMiB: number; outcomes: Record<string, number> };
    // Before the bound the server kept every name: about 100 MiB.
    assert.ok(result.heldMiB < 10, out);
    const refused = `error 3 service name longer than ${MAX_SERVICE_NAME_BYTES} bytes`;
    assert.deepEqual(result.outcomes, { [refused]: 100 }, out);
  });
});
