// Every documented way to run the compiled server (README: Running in production) — `npm
// start`, the `sessiond` bin, `node dist/server/main.js` — in a checkout built the way `npm
// ci` builds it: each listens, names its version, and shuts down gracefully on SIGTERM
// (exit 0, no node process left behind). Also the drain before the shutdown, and the
// health-only listener.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { GetRequest, GetResponse } from "../../src/gen/sessiond/v1/session.js";
import { alive, builtCheckout } from "../support/builtCheckout.js";
import { startRedis } from "../support/redisServers.js";
import { checkHealth, sessionClient, unary, waitForHealth } from "../support/serverClients.js";
import { REPO_ROOT, ServerProcess } from "../support/serverProcess.js";

const VERSION = (
  JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { version: string }
).version;

let dir: string;
let root: string;
before(() => {
  ({ dir, root } = builtCheckout());
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** SIGTERM (or `signal` to the whole process group), then: exit 0, the node server gone. */
async function stopGracefully(
  server: ServerProcess,
  how: { signal: NodeJS.Signals; group?: boolean } = { signal: "SIGTERM" },
): Promise<void> {
  const pid = Number(server.logs().find((line) => line.msg === "listening")?.pid);
  assert.ok(pid > 0, "no pid in the listening line");
  const launcher = server.child.pid as number;
  try {
    process.kill(how.group ? -launcher : launcher, how.signal);
    const timer = setTimeout(() => process.kill(-launcher, "SIGKILL"), 30_000);
    const exit = await server.exited;
    clearTimeout(timer);
    assert.deepEqual(exit, { code: 0, signal: null }, server.lines.join("\n"));
    const msgs = server.logs().map((line) => line.msg);
    assert.ok(msgs.includes("stopped"), `no "stopped" line:\n${server.lines.join("\n")}`);
    assert.ok(!msgs.includes("second signal, exiting without waiting"), msgs.join("\n"));
    // The launcher's exit must not leave the server running without it.
    for (let i = 0; i < 50 && alive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    assert.equal(alive(pid), false, `node server ${pid} outlived its launcher`);
  } finally {
    if (alive(pid)) process.kill(pid, "SIGKILL");
  }
}

function listening(server: ServerProcess): Record<string, unknown> {
  return server.logs().find((line) => line.msg === "listening") as Record<string, unknown>;
}

const args = (name: string) => ["--port", "0", "--file-dir", join(dir, name)];

describe("launchers of the compiled server", () => {
  test("npm start: node runs dist/server/main.js with the heap flag; SIGTERM to npm is graceful", async () => {
    const server = await ServerProcess.launch("npm", ["start", "--", ...args("npm")], {
      cwd: root,
    });
    const line = listening(server);
    assert.equal(line.version, VERSION);
    assert.equal(line.node, process.version);
    assert.deepEqual(line.heapFlags, ["--max-semi-space-size=64"]);
    assert.equal(await checkHealth(server.address), "SERVING");
    await stopGracefully(server);
  });

  test("npm start: Ctrl-C (SIGINT to the process group, npm forwarding it too) is one graceful stop", async () => {
    const server = await ServerProcess.launch("npm", ["start", "--", ...args("npm-int")], {
      cwd: root,
    });
    await stopGracefully(server, { signal: "SIGINT", group: true });
  });

  test("the sessiond bin (as npm links it): its shebang adds the heap flag; SIGTERM is graceful", async () => {
    const binDir = join(dir, "bin");
    mkdirSync(binDir, { recursive: true });
    const bin = join(binDir, "sessiond");
    symlinkSync(join(root, "dist/server/main.js"), bin);
    const version = spawnSync(bin, ["--version"], { encoding: "utf8" });
    assert.equal(version.status, 0, version.stderr);
    assert.equal(version.stdout, `sessiond ${VERSION}\n`);
    const server = await ServerProcess.launch(bin, args("bin"), { cwd: dir });
    assert.deepEqual(listening(server).heapFlags, ["--max-semi-space-size=64"]);
    await stopGracefully(server);
  });

  test("node dist/server/main.js: runs as is (no heap flag unless given); SIGTERM is graceful", async () => {
    const server = await ServerProcess.launch(
      process.execPath,
      ["dist/server/main.js", ...args("node")],
      { cwd: root },
    );
    assert.deepEqual(listening(server).heapFlags, []);
    assert.equal(listening(server).version, VERSION);
    await stopGracefully(server);
  });

  test("NODE_OPTIONS carries the heap flag to node dist/server/main.js", async () => {
    const server = await ServerProcess.launch(
      process.execPath,
      ["dist/server/main.js", ...args("node-options")],
      { cwd: root, env: { NODE_OPTIONS: "--max-semi-space-size=64" } },
    );
    assert.deepEqual(listening(server).heapFlags, ["--max-semi-space-size=64"]);
    await stopGracefully(server);
  });
});

describe("shutdown drain", () => {
  test("SIGTERM with --shutdown-drain: health NOT_SERVING at once, calls still served, then a graceful stop", async () => {
    const server = await ServerProcess.launch(
      process.execPath,
      ["dist/server/main.js", ...args("drain"), "--shutdown-drain", "5s", "--health-port", "0"],
      { cwd: root },
    );
    const healthAddress = `127.0.0.1:${listening(server).healthPort}`;
    const client = sessionClient(server.address);
    try {
      assert.equal(await checkHealth(server.address), "SERVING");
      const started = Date.now();
      server.child.kill("SIGTERM");
      await server.waitForLog((line) => line.msg.startsWith("draining"));
      for (const address of [server.address, healthAddress]) {
        assert.equal(await checkHealth(address, ""), "NOT_SERVING");
        assert.equal(await checkHealth(address, "sessiond.v1.SessionService"), "NOT_SERVING");
      }
      assert.equal(await checkHealth(healthAddress, "liveness"), "SERVING");
      // New calls, on a new connection too, still succeed during the drain.
      const fresh = sessionClient(server.address);
      try {
        const { response } = await unary<GetRequest, GetResponse>(fresh, fresh.get, { key: "k" });
        assert.equal(response.found, false);
      } finally {
        fresh.close();
      }
      const { response } = await unary<GetRequest, GetResponse>(client, client.get, { key: "k" });
      assert.equal(response.found, false);
      assert.ok(Date.now() - started < 5000, "the checks took the whole drain: nothing proven");
      await server.waitForLog((line) => line.msg === "shutting down");
      assert.ok(Date.now() - started >= 4900, "shut down before the drain delay was over");
      assert.deepEqual(await server.exited, { code: 0, signal: null });
    } finally {
      client.close();
      if (server.child.exitCode === null) server.child.kill("SIGKILL");
    }
  });
});

describe("health-only listener", () => {
  test("plaintext grpc.health.v1 only: liveness SERVING while Redis is down, readiness follows Redis", async (t) => {
    const redis = await startRedis();
    // Stopped whatever happens: a redis-server left running would keep the test file alive.
    t.after(() => redis.stop());
    const server = await ServerProcess.launch(
      process.execPath,
      [
        "dist/server/main.js",
        "--port",
        "0",
        "--storage",
        "redis",
        "--redis-url",
        redis.url,
        "--redis-timeout-ms",
        "200",
        "--health-check-interval",
        "300ms",
        "--health-port",
        "0",
        "--metrics-port",
        "0",
      ],
      { cwd: root },
    );
    const line = listening(server);
    const healthAddress = `127.0.0.1:${line.healthPort}`;
    try {
      assert.equal(await checkHealth(healthAddress, "liveness"), "SERVING");
      assert.equal(await checkHealth(healthAddress, ""), "SERVING");
      assert.equal(await checkHealth(healthAddress, "sessiond.v1.SessionService"), "SERVING");
      await assert.rejects(checkHealth(healthAddress, "no.such.Service"), { code: 5 });

      await redis.kill();
      await waitForHealth(healthAddress, "", "NOT_SERVING");
      assert.equal(await checkHealth(healthAddress, "sessiond.v1.SessionService"), "NOT_SERVING");
      assert.equal(await checkHealth(server.address, ""), "NOT_SERVING");
      assert.equal(await checkHealth(healthAddress, "liveness"), "SERVING");

      await redis.restart();
      await waitForHealth(healthAddress, "", "SERVING");
      assert.equal(await checkHealth(server.address, ""), "SERVING");
      assert.equal(await checkHealth(healthAddress, "liveness"), "SERVING");

      // Only health there: the session service is not served on it.
      const client = sessionClient(healthAddress);
      try {
        await assert.rejects(unary<GetRequest, GetResponse>(client, client.get, { key: "k" }), {
          code: 12,
        });
      } finally {
        client.close();
      }
      // The build_info gauge, on the metrics endpoint of the compiled server.
      const metrics = await httpGet(`http://127.0.0.1:${line.metricsPort}/metrics`);
      assert.ok(
        metrics.includes(`sessiond_build_info{version="${VERSION}",node="${process.version}"} 1\n`),
        metrics
          .split("\n")
          .filter((l) => l.includes("build_info"))
          .join("\n"),
      );
    } finally {
      await stopGracefully(server);
    }
  });

  test("--health-port on a port in use stops start-up with exit 1, naming the setting", async () => {
    const blocker = net.createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      const run = spawnSync(
        process.execPath,
        ["dist/server/main.js", ...args("busy"), "--health-port", String(port)],
        { cwd: root, encoding: "utf8", timeout: 60_000 },
      );
      assert.equal(run.status, 1, run.stderr);
      assert.match(run.stderr, /SESSIOND_HEALTH_PORT \(--health-port\): cannot listen on/);
    } finally {
      blocker.close();
    }
  });
});

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http
      .get(url, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (chunk) => {
          body += chunk;
        });
        res.on("end", () => resolve(body));
      })
      .on("error", reject);
  });
}
