// The Prometheus endpoint of startServer() in-process, over real sockets: a scripted set
// of gRPC calls, then GET /metrics, whose counters must equal exactly the calls made.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { type ServiceError, status } from "@grpc/grpc-js";
import { ConfigError } from "../../src/core/ConfigError.js";
import type { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { resolveConfig } from "../../src/server/config/resolveConfig.js";
import { helpText } from "../../src/server/helpText.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import { startRedis } from "../support/redisServers.js";
import { sessionClient, unary, waitForHealth } from "../support/serverClients.js";

const SERVICE = "sessiond.v1.SessionService";
const REPO = join(import.meta.dirname, "..", "..");

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text format, the sample lines only (HELP and TYPE lines skipped). */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(match, `not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, value] of (match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[key as string] = (value as string).replace(/\\(.)/g, (_, c: string) =>
        c === "n" ? "\n" : c,
      );
    }
    const raw = match[3] as string;
    const value = raw === "+Inf" ? Infinity : raw === "-Inf" ? -Infinity : Number(raw);
    samples.push({ name: match[1] as string, labels, value });
  }
  return samples;
}

class Scrape {
  constructor(
    readonly text: string,
    readonly samples: Sample[],
  ) {}

  /** Every sample named `name` whose labels include `labels`. */
  all(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter(
      (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
  }

  /** The one sample named `name` with exactly `labels` (apart from none given). */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    const found = this.samples.filter(
      (s) =>
        s.name === name &&
        Object.keys(s.labels).length === Object.keys(labels).length &&
        Object.entries(labels).every(([k, v]) => s.labels[k] === v),
    );
    assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} appears ${found.length} times`);
    return found[0]?.value;
  }

  has(name: string): boolean {
    return this.samples.some((s) => s.name === name);
  }
}

async function scrape(running: RunningServer): Promise<Scrape> {
  assert.ok(running.metricsPort !== undefined, "the server has no metrics port");
  const res = await fetch(`http://127.0.0.1:${running.metricsPort}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  return new Scrape(text, parseSamples(text));
}

/** gRPC status codes as Prometheus labels them. */
const OK = "OK";

/** The code of a failed call (its name), or OK. */
async function codeOf(call: Promise<unknown>): Promise<string> {
  try {
    await call;
    return OK;
  } catch (err) {
    const code = (err as ServiceError).code;
    assert.equal(typeof code, "number", `not a gRPC error: ${String(err)}`);
    return status[code] ?? String(code);
  }
}

/** Calls made, by method and code, to hold the scrape to. */
class Ledger {
  readonly calls = new Map<string, number>();

  async call(method: string, run: Promise<unknown>, want: string): Promise<void> {
    const code = await codeOf(run);
    assert.equal(code, want, `${method} ended ${code}, expected ${want}`);
    const key = `${method} ${code}`;
    this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  byMethod(): Map<string, number> {
    const counts = new Map<string, number>();
    for (const [key, n] of this.calls) {
      const method = key.split(" ")[0] as string;
      counts.set(method, (counts.get(method) ?? 0) + n);
    }
    return counts;
  }
}

/**
 * The scripted calls: 4 Set (2 create a session), 1 Set refused ABORTED (versioned, stale),
 * 4 Get, 1 Get refused INVALID_ARGUMENT (malformed id), 1 Regenerate, 1 RemoveAll.
 */
async function script(client: SessionServiceClient, ledger: Ledger): Promise<void> {
  let id = "";
  await ledger.call(
    "Set",
    unary(client, client.set, { key: "a", value: 1 }).then((r) => {
      id = r.response.sessionId;
    }),
    OK,
  );
  await ledger.call("Set", unary(client, client.set, { key: "b", value: 2 }, id), OK);
  await ledger.call("Set", unary(client, client.set, { key: "c", value: 3 }, id), OK);
  // The session is at version 3 now.
  await ledger.call(
    "Set",
    unary(client, client.set, { key: "d", value: 4, expectedVersion: 1n }, id),
    "ABORTED",
  );
  await ledger.call("Set", unary(client, client.set, { key: "other", value: true }), OK);
  for (const key of ["a", "b", "c", "nope"]) {
    await ledger.call("Get", unary(client, client.get, { key }, id), OK);
  }
  await ledger.call(
    "Get",
    unary(client, client.get, { key: "a" }, "../not-an-id"),
    "INVALID_ARGUMENT",
  );
  await ledger.call(
    "Regenerate",
    unary(client, client.regenerate, { keepOld: false }, id).then((r) => {
      id = r.response.sessionId;
    }),
    OK,
  );
  await ledger.call("RemoveAll", unary(client, client.removeAll, {}, id), OK);
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "sessiond-metrics-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("metrics endpoint", () => {
  for (const storage of ["memory", "file"] as const) {
    test(`${storage}: counters equal the calls made, per method and code`, async () => {
      const running = await startServer({
        host: "127.0.0.1",
        port: 0,
        metricsPort: 0,
        storage,
        fileDir: join(dir, `script-${storage}`),
      });
      const client = sessionClient(running.address);
      try {
        assert.ok(
          (running.metricsPort ?? 0) > 0,
          `metrics port ${running.metricsPort} is not bound`,
        );
        assert.notEqual(running.metricsPort, running.port, "metrics share the gRPC port");
        const ledger = new Ledger();
        await script(client, ledger);
        const m = await scrape(running);

        // gRPC: exactly the calls made, nothing else (no health or reflection call was made).
        const handled = m.all("sessiond_grpc_server_handled_total");
        const seen = new Map(
          handled.map((s) => [`${s.labels.method} ${s.labels.code}`, s.value] as const),
        );
        assert.deepEqual(seen, ledger.calls);
        for (const s of handled) {
          assert.equal(s.labels.service, SERVICE, `service label of ${JSON.stringify(s.labels)}`);
        }
        for (const [method, n] of ledger.byMethod()) {
          const labels = { service: SERVICE, method };
          assert.equal(m.value("sessiond_grpc_server_handling_seconds_count", labels), n, method);
          const inf = m.value("sessiond_grpc_server_handling_seconds_bucket", {
            ...labels,
            le: "+Inf",
          });
          assert.equal(inf, n, `${method}: +Inf bucket`);
          const sum = m.value("sessiond_grpc_server_handling_seconds_sum", labels) ?? -1;
          assert.ok(sum > 0 && sum < 60, `${method}: latency sum ${sum} s`);
        }

        // Sessions: 2 created (a regenerate's version 1 is not a creation), 1 conflict.
        assert.equal(m.value("sessiond_sessions_created_total"), 2);
        assert.equal(m.value("sessiond_sessions_destroyed_total"), 1);
        assert.equal(m.value("sessiond_sessions_regenerated_total"), 1);
        assert.equal(m.value("sessiond_version_conflicts_total"), 1);
        assert.equal(m.value("sessiond_sessions_expired_total"), 0);

        // Storage: the configured kind; 5 Set applies (the malformed Get reaches no storage).
        const calls = (method: string) =>
          m.value("sessiond_storage_calls_total", { storage, method });
        assert.equal(calls("apply"), 5);
        assert.equal(calls("readKey"), 4);
        assert.equal(calls("regenerate"), 1);
        assert.equal(calls("destroy"), 1);
        assert.ok((calls("ping") ?? 0) >= 1, "the health check's first ping is counted");
        assert.equal(
          m.value("sessiond_storage_errors_total", { storage, method: "apply", code: "aborted" }),
          1,
        );
        const errors = m.all("sessiond_storage_errors_total");
        assert.equal(errors.length, 1, `storage errors: ${JSON.stringify(errors)}`);
        for (const s of m.all("sessiond_storage_calls_total")) {
          assert.equal(s.labels.storage, storage, `storage label of ${JSON.stringify(s.labels)}`);
          const count = m.value("sessiond_storage_call_duration_seconds_count", {
            storage,
            method: s.labels.method as string,
          });
          assert.equal(count, s.value, `${s.labels.method}: duration count`);
        }

        // Sizes: one session is left (the second Set's; the first was regenerated, then removed).
        if (storage === "memory") {
          assert.equal(m.value("sessiond_memory_sessions"), 1);
          assert.ok((m.value("sessiond_memory_used_bytes") ?? 0) > 0, "memory used bytes");
          assert.ok((m.value("sessiond_memory_max_bytes") ?? 0) > 0, "memory budget");
          assert.equal(m.has("sessiond_file_sessions"), false, "file gauges on memory");
        } else {
          const files = m.value("sessiond_file_sessions") ?? -1;
          // The directory count runs in the background at start; nothing else is in it.
          assert.equal(files, 1, `file sessions ${files}`);
          assert.ok((m.value("sessiond_file_used_bytes") ?? 0) > 0, "file used bytes");
          assert.equal(m.value("sessiond_file_max_files"), 1_000_000);
          assert.equal(m.has("sessiond_memory_sessions"), false, "memory gauges on file");
        }
        assert.equal(m.has("sessiond_redis_up"), false, "redis gauge without redis");
        // prom-client's process defaults.
        assert.ok(m.has("process_cpu_user_seconds_total"), "no process metrics");
        assert.ok(m.has("nodejs_heap_size_used_bytes"), "no Node.js heap metrics");
      } finally {
        client.close();
        await running.shutdown();
      }
      await assert.rejects(
        fetch(`http://127.0.0.1:${running.metricsPort}/metrics`),
        "the metrics port is still open after shutdown",
      );
    });

    test(`${storage}: a session that expires is counted once`, async () => {
      const running = await startServer({
        port: 0,
        metricsPort: 0,
        storage,
        ttlMs: 200,
        fileDir: join(dir, `expiry-${storage}`),
      });
      const client = sessionClient(running.address);
      try {
        const { response } = await unary(client, client.set, { key: "a", value: 1 });
        await new Promise((resolve) => setTimeout(resolve, 400));
        const got = await unary(client, client.get, { key: "a" }, response.sessionId);
        assert.equal(got.response.found, false);
        let m = await scrape(running);
        assert.equal(m.value("sessiond_sessions_expired_total"), 1);
        if (storage === "memory") {
          // One never read again is freed by the sweep (each second), and counted too.
          await unary(client, client.set, { key: "b", value: 2 });
          const deadline = Date.now() + 10_000;
          do {
            await new Promise((resolve) => setTimeout(resolve, 100));
            m = await scrape(running);
          } while (m.value("sessiond_sessions_expired_total") === 1 && Date.now() < deadline);
          assert.equal(m.value("sessiond_sessions_expired_total"), 2);
          assert.equal(m.value("sessiond_memory_sessions"), 0);
        }
      } finally {
        client.close();
        await running.shutdown();
      }
    });
  }

  test("off by default: no port bound, prom-client not loaded", async () => {
    const running = await startServer({ port: 0, storage: "memory" });
    try {
      assert.equal(running.metricsPort, undefined);
      assert.equal(running.config.metricsPort, undefined);
    } finally {
      await running.shutdown();
    }
    // In a fresh process (this one loaded prom-client for the other tests): what a server
    // started with and without a metrics port pulls in. CommonJS modules imported from ES
    // ones land in require's cache.
    // .mts: outside the repository no package.json says "type": "module".
    const probe = join(dir, "probe.mts");
    const startUrl = pathToFileURL(join(REPO, "src/server/startServer.ts")).href;
    await writeFile(
      probe,
      [
        'import { createRequire } from "node:module";',
        `const { startServer } = await import(${JSON.stringify(startUrl)});`,
        "const metricsPort = process.argv[2] === 'on' ? 0 : undefined;",
        'const running = await startServer({ port: 0, storage: "memory", metricsPort });',
        "const loaded = Object.keys(createRequire(import.meta.url).cache).some((p) => p.includes('/node_modules/prom-client/'));",
        "await running.shutdown();",
        "process.stdout.write(JSON.stringify({ loaded, metricsPort: running.metricsPort ?? null }));",
      ].join("\n"),
    );
    const run = (mode: string) => {
      const child = spawnSync(process.execPath, ["--import", "tsx", probe, mode], {
        cwd: REPO,
        encoding: "utf8",
        timeout: 60_000,
        env: { ...process.env, NODE_OPTIONS: "" },
      });
      assert.equal(child.status, 0, child.stderr);
      return JSON.parse(child.stdout) as { loaded: boolean; metricsPort: number | null };
    };
    assert.deepEqual(run("off"), { loaded: false, metricsPort: null });
    const on = run("on");
    assert.equal(on.loaded, true, "the probe cannot see prom-client even when metrics are on");
    assert.ok((on.metricsPort ?? 0) > 0, `metrics port ${on.metricsPort}`);
  });

  test("a bad metrics port is a ConfigError naming the setting", async () => {
    for (const env of [{ SESSIOND_METRICS_PORT: "abc" }, { SESSIOND_METRICS_PORT: "65536" }]) {
      assert.throws(
        () => parseConfig([], env),
        (err) =>
          err instanceof ConfigError &&
          /^SESSIOND_METRICS_PORT \(--metrics-port\): expected a whole number from 0 to 65535; got "/.test(
            err.message,
          ),
      );
    }
    assert.throws(
      () => parseConfig(["--metrics-port", "-1"], {}),
      (err) =>
        err instanceof ConfigError && /^--metrics-port \(SESSIOND_METRICS_PORT\)/.test(err.message),
    );
    await assert.rejects(
      startServer({ port: 0, storage: "memory", metricsPort: 1.5 }),
      (err) =>
        err instanceof ConfigError &&
        /option metricsPort \(SESSIOND_METRICS_PORT\)/.test(err.message),
    );
    // The same parser behind all three.
    assert.equal(parseConfig(["--metrics-port=9464"], {}).config.metricsPort, 9464);
    assert.equal(parseConfig([], { SESSIOND_METRICS_PORT: "0" }).config.metricsPort, 0);
    assert.equal(resolveConfig({ metricsPort: 9464 }).metricsPort, 9464);
    assert.equal(resolveConfig().metricsHost, "127.0.0.1");
    assert.match(helpText(), /\n {2}--metrics-port <value>, SESSIOND_METRICS_PORT\n/);
    assert.match(helpText(), /\n {2}--metrics-host <value>, SESSIOND_METRICS_HOST\n/);
  });

  test("a metrics port already taken stops the start, naming the setting", async () => {
    const first = await startServer({ port: 0, storage: "memory", metricsPort: 0 });
    try {
      await assert.rejects(
        startServer({ port: 0, storage: "memory", metricsPort: first.metricsPort }),
        /SESSIOND_METRICS_PORT \(--metrics-port\): cannot listen on 127\.0\.0\.1:\d+: .*EADDRINUSE/,
      );
    } finally {
      await first.shutdown();
    }
  });

  test("anything but GET /metrics: 404, or 405 for another method", async () => {
    const running = await startServer({ port: 0, storage: "memory", metricsPort: 0 });
    try {
      const base = `http://127.0.0.1:${running.metricsPort}`;
      for (const path of ["/", "/metrics/", "/metric", "/favicon.ico"]) {
        const res = await fetch(`${base}${path}`);
        assert.equal(res.status, 404, path);
        await res.text();
      }
      const post = await fetch(`${base}/metrics`, { method: "POST" });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get("allow"), "GET, HEAD");
      await post.text();
      const query = await fetch(`${base}/metrics?name[]=x`);
      assert.equal(query.status, 200);
      await query.text();
    } finally {
      await running.shutdown();
    }
  });

  test("two servers in one process count apart", async () => {
    const one = await startServer({ port: 0, storage: "memory", metricsPort: 0 });
    const two = await startServer({ port: 0, storage: "memory", metricsPort: 0 });
    const clients = [sessionClient(one.address), sessionClient(two.address)] as const;
    try {
      for (let i = 0; i < 3; i++) await unary(clients[0], clients[0].set, { key: "k", value: i });
      await unary(clients[1], clients[1].set, { key: "k", value: 1 });
      const labels = { service: SERVICE, method: "Set", code: OK };
      const [a, b] = await Promise.all([scrape(one), scrape(two)]);
      assert.equal(a.value("sessiond_grpc_server_handled_total", labels), 3);
      assert.equal(b.value("sessiond_grpc_server_handled_total", labels), 1);
      assert.equal(a.value("sessiond_sessions_created_total"), 3);
      assert.equal(b.value("sessiond_sessions_created_total"), 1);
    } finally {
      for (const client of clients) client.close();
      await Promise.all([one.shutdown(), two.shutdown()]);
    }
  });

  test("calls the caller check refuses are counted with their code", async () => {
    const tokens = join(dir, "tokens");
    await writeFile(tokens, "reader-token-0123456789abcdef read\n");
    const running = await startServer({
      port: 0,
      storage: "memory",
      metricsPort: 0,
      authTokensFile: tokens,
    });
    const client = sessionClient(running.address);
    try {
      assert.equal(await codeOf(unary(client, client.get, { key: "a" })), "UNAUTHENTICATED");
      const m = await scrape(running);
      assert.equal(
        m.value("sessiond_grpc_server_handled_total", {
          service: SERVICE,
          method: "Get",
          code: "UNAUTHENTICATED",
        }),
        1,
      );
      assert.equal(
        m.value("sessiond_storage_calls_total", { storage: "memory", method: "readKey" }),
        undefined,
      );
    } finally {
      client.close();
      await running.shutdown();
    }
  });

  test("redis: the storage kind labels the calls, and sessiond_redis_up follows the pings", async () => {
    const redis = await startRedis();
    const running = await startServer({
      port: 0,
      metricsPort: 0,
      storage: "redis",
      redisUrl: redis.url,
      redisTimeoutMs: 200,
      healthCheckIntervalMs: 100,
    });
    const client = sessionClient(running.address);
    try {
      await unary(client, client.set, { key: "a", value: 1 });
      let m = await scrape(running);
      assert.equal(
        m.value("sessiond_storage_calls_total", { storage: "redis", method: "apply" }),
        1,
      );
      assert.equal(m.value("sessiond_sessions_created_total"), 1);
      assert.equal(m.value("sessiond_redis_up"), 1);
      assert.equal(m.value("sessiond_sessions_expired_total"), 0);
      assert.match(m.text, /# HELP sessiond_sessions_expired_total .*Redis expires keys itself/);

      await redis.kill();
      await waitForHealth(running.address, "", "NOT_SERVING");
      // Health gives up on a ping after its interval (100 ms); the gauge waits for the ping
      // itself to fail, within SESSIOND_REDIS_TIMEOUT_MS (200 ms).
      const deadline = Date.now() + 10_000;
      for (;;) {
        m = await scrape(running);
        if (m.value("sessiond_redis_up") === 0 || Date.now() > deadline) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      assert.equal(m.value("sessiond_redis_up"), 0);
      const failed = m.value("sessiond_storage_errors_total", {
        storage: "redis",
        method: "ping",
        code: "unavailable",
      });
      assert.ok((failed ?? 0) >= 1, `failed pings: ${failed}`);
    } finally {
      client.close();
      await running.shutdown();
      await redis.stop();
    }
  });
});
