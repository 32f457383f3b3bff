// The real server process (src/server/main.ts, as `npm run dev` runs it; `npm start` runs
// its compiled form, test/server/launchers.test.ts) over real sockets.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import http2 from "node:http2";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { isValidSessionId } from "../../src/core/session/ids.js";
import { SetRequest, SetResponse } from "../../src/gen/sessiond/v1/session.js";
import { defaultShown, envName, flagUsage } from "../../src/server/config/Setting.js";
import { SETTINGS } from "../../src/server/config/settings.js";
import { checkHealth, sessionClient, unary } from "../support/serverClients.js";
import { REPO_ROOT, runCli, ServerProcess } from "../support/serverProcess.js";

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "sessiond-server-test-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("sessiond process", () => {
  test("reports SERVING on the standard health service once it listens", async () => {
    const server = await ServerProcess.start(["--file-dir", join(dir, "health")]);
    try {
      assert.equal(await checkHealth(server.address, ""), "SERVING");
      assert.equal(await checkHealth(server.address, "sessiond.v1.SessionService"), "SERVING");
      await assert.rejects(checkHealth(server.address, "no.such.Service"), { code: 5 });
    } finally {
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  });

  test("--help exits 0 and lists every setting with its flag, variable and default", async () => {
    const { code, stdout, stderr } = await runCli(["--help"]);
    assert.equal(code, 0, stderr);
    const lines = stdout.split("\n");
    for (const setting of SETTINGS) {
      const at = lines.indexOf(`  ${flagUsage(setting)}, ${envName(setting)}`);
      assert.ok(at >= 0, `--help has no line for ${flagUsage(setting)} / ${envName(setting)}`);
      const description = lines[at + 1] ?? "";
      assert.ok(description.includes(setting.description), description);
      assert.ok(description.includes(`(default: ${defaultShown(setting)})`), description);
      // One default per setting: a description never states another one.
      assert.equal(description.split("default:").length, 2, description);
      assert.ok(
        !(setting.default !== undefined && setting.defaultText !== undefined),
        setting.name,
      );
    }
    // A boolean flag takes no value; --help does not ask for one.
    assert.ok(lines.includes("  --adopt-unknown-ids [true|false], SESSIOND_ADOPT_UNKNOWN_IDS"));
    assert.ok(lines.includes("  --port <value>, SESSIOND_PORT"));
    assert.ok(stdout.includes("(default: one generated in the file directory"));
  });

  const badValues: Array<{ args: string[]; env?: Record<string, string>; names: string }> = [
    { args: ["--port", "abc"], names: "SESSIOND_PORT" },
    { args: ["--port=70000"], names: "SESSIOND_PORT" },
    { args: [], env: { SESSIOND_PORT: "-1" }, names: "SESSIOND_PORT" },
    { args: ["--storage", "disk"], names: "SESSIOND_STORAGE" },
    { args: ["--ttl", "forever"], names: "SESSIOND_TTL" },
    { args: ["--ttl", "0"], names: "SESSIOND_TTL" },
    { args: [], env: { SESSIOND_MAX_LIFETIME: "-5s" }, names: "SESSIOND_MAX_LIFETIME" },
    { args: ["--adopt-unknown-ids", "maybe"], names: "SESSIOND_ADOPT_UNKNOWN_IDS" },
    { args: ["--metadata-key", "X Session"], names: "SESSIOND_METADATA_KEY" },
    { args: ["--max-value-bytes", "1.5"], names: "SESSIOND_MAX_VALUE_BYTES" },
    { args: ["--max-keys", "0"], names: "SESSIOND_MAX_KEYS" },
    { args: ["--log-level", "verbose"], names: "SESSIOND_LOG_LEVEL" },
    { args: ["--shutdown-grace", "soon"], names: "SESSIOND_SHUTDOWN_GRACE" },
    {
      args: [],
      env: { SESSIOND_FILE_ENCRYPTION_KEY: "c2hvcnQ=" },
      names: "SESSIOND_FILE_ENCRYPTION_KEY",
    },
    // A valid key, refused because it is on the command line (every local user's ps shows it).
    { args: ["--encryption-keys", "ab".repeat(32)], names: "SESSIOND_ENCRYPTION_KEYS" },
    { args: ["--redis-url", "http://x"], names: "SESSIOND_REDIS_URL" },
    { args: ["--redis-cluster-nodes", "a:1,b"], names: "SESSIOND_REDIS_CLUSTER_NODES" },
    {
      args: ["--storage", "redis", "--redis-sentinels", "s:26379"],
      names: "SESSIOND_REDIS_SENTINEL_NAME",
    },
    // Misspelt and misplaced settings: each names the fix.
    {
      args: [],
      env: { SESSIOND_REDIS_UR: "redis://x" },
      names: "did you mean SESSIOND_REDIS_URL?",
    },
    { args: ["--max-value-byte", "1"], names: "did you mean --max-value-bytes?" },
    {
      args: [],
      env: { SESSIOND_REDIS_URL: "redis://cache:6379" },
      names: "set SESSIOND_STORAGE=redis or redis-hash, or remove SESSIOND_REDIS_URL",
    },
    {
      args: ["--file-max-files", "3"],
      env: { SESSIOND_STORAGE: "memory" },
      names: "set SESSIOND_STORAGE=file, or remove --file-max-files",
    },
    { args: ["--metrics-host", "::1"], names: "set --metrics-port too, or remove --metrics-host" },
    // A path through a regular file cannot become a directory (ENOTDIR).
    {
      args: ["--file-dir", join(REPO_ROOT, "package.json", "sessions")],
      names: "SESSIOND_FILE_DIR",
    },
    { args: ["--port"], names: "--port" },
    { args: ["--no-such-flag", "1"], names: "--no-such-flag" },
    { args: ["stray"], names: "stray" },
  ];

  test("each kind of bad setting stops start-up: exit 2, one line on stderr naming it", async () => {
    // Four at a time: each is a whole node process.
    const queue = [...badValues];
    const failures: string[] = [];
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let item = queue.shift(); item; item = queue.shift()) {
          const { code, stdout, stderr } = await runCli(item.args, item.env);
          const lines = stderr.split("\n").filter((l) => l !== "");
          const what = `${item.args.join(" ")} ${JSON.stringify(item.env ?? {})}`;
          if (code !== 2) failures.push(`${what}: exit ${code}, stderr ${stderr}`);
          else if (lines.length !== 1) failures.push(`${what}: ${lines.length} lines: ${stderr}`);
          else if (!lines[0]?.startsWith("sessiond: ") || !lines[0].includes(item.names)) {
            failures.push(`${what}: line does not name ${item.names}: ${lines[0]}`);
          } else if (stdout !== "") failures.push(`${what}: wrote to stdout: ${stdout}`);
        }
      }),
    );
    assert.deepEqual(failures, []);
  });

  test("a bad encryption key is not echoed back", async () => {
    const secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAZZ";
    const { code, stderr } = await runCli([], { SESSIOND_FILE_ENCRYPTION_KEY: secret });
    assert.equal(code, 2);
    assert.match(stderr, /SESSIOND_FILE_ENCRYPTION_KEY/);
    assert.ok(!stderr.includes(secret));
  });

  test("SIGTERM while 100 calls are in flight: all 100 complete OK, new connections are refused, exit 0", async () => {
    // A generous grace period: on a slow machine the drain may take long, never fail.
    const server = await ServerProcess.start([
      "--file-dir",
      join(dir, "drain"),
      "--shutdown-grace",
      "120s",
    ]);
    const h2 = http2.connect(`http://${server.address}`);
    try {
      await new Promise((resolve, reject) => h2.once("connect", resolve).once("error", reject));
      // Each call sends its request headers now and its message only after the signal, so
      // none can complete before the shutdown starts: they are in flight by construction.
      const calls = Array.from({ length: 100 }, (_, i) => openSetCall(h2, `k${i}`, i));
      // A PING is answered only after the server has processed every frame sent before it;
      // the first one makes sure the HEADERS frames have left (nghttp2 may put a PING ahead
      // of HEADERS queued with it), the second that the server has read them all. So the
      // server has all 100 streams open when the signal lands.
      await ping(h2);
      await ping(h2);
      server.child.kill("SIGTERM");
      await server.waitForLog((line) => line.msg === "shutting down");

      await assert.rejects(connectOnce(server.port), { code: "ECONNREFUSED" });

      for (const call of calls) call.sendMessage();
      const results = await Promise.all(calls.map((call) => call.done));
      for (const [i, result] of results.entries()) {
        assert.equal(result.grpcStatus, "0", `call ${i}: ${result.grpcMessage}`);
        assert.ok(isValidSessionId(result.response?.sessionId), `call ${i} returned no id`);
        assert.equal(result.response?.version, 1n);
      }
      assert.deepEqual(await server.exited, { code: 0, signal: null });
      const msgs = server.logs().map((line) => line.msg);
      assert.ok(msgs.includes("stopped"), msgs.join(", "));
      assert.ok(!msgs.some((msg) => msg.startsWith("grace period over")), msgs.join(", "));
    } finally {
      h2.destroy();
      await server.stop();
    }
  });

  test("SIGINT shuts down cleanly too; the listening line is printed even at --log-level error", async () => {
    const server = await ServerProcess.start(["--storage", "memory", "--log-level", "error"]);
    server.child.kill("SIGINT");
    assert.deepEqual(await server.exited, { code: 0, signal: null });
  });

  test("logs are JSON lines and never hold a whole session id", async () => {
    const server = await ServerProcess.start(["--file-dir", join(dir, "logs")]);
    const client = sessionClient(server.address);
    const ids: string[] = [];
    try {
      for (let i = 0; i < 5; i++) {
        const { response } = await unary(client, client.set, { key: "k", value: i });
        ids.push(response.sessionId);
        await unary(client, client.get, { key: "k" }, response.sessionId);
        // Failures are what usually gets logged: a stale version, then a regenerate and logout.
        await assert.rejects(
          unary(
            client,
            client.set,
            { key: "k", value: 1, expectedVersion: 99n },
            response.sessionId,
          ),
          { code: 10 },
        );
        const regenerated = await unary(
          client,
          client.regenerate,
          { keepOld: false },
          response.sessionId,
        );
        ids.push(regenerated.response.sessionId);
        await unary(client, client.removeAll, {}, regenerated.response.sessionId);
      }
    } finally {
      client.close();
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
    const logs = server.logs();
    assert.ok(logs.some((line) => line.msg === "listening"));
    for (const line of logs) {
      assert.equal(typeof line.time, "string");
      assert.ok(["info", "warn", "error"].includes(line.level), JSON.stringify(line));
    }
    for (const id of ids) {
      assert.ok(isValidSessionId(id));
      const leak = server.lines.find((line) => line.includes(id));
      assert.equal(leak, undefined, `a log line holds a whole session id: ${leak}`);
    }
  });
});

interface CallResult {
  grpcStatus: string | undefined;
  grpcMessage: string | undefined;
  response: SetResponse | undefined;
}

/** A raw HTTP/2 gRPC Set whose message is held back until sendMessage(). */
function openSetCall(h2: http2.ClientHttp2Session, key: string, value: number) {
  const stream = h2.request(
    {
      ":method": "POST",
      ":path": "/sessiond.v1.SessionService/Set",
      "content-type": "application/grpc",
      te: "trailers",
    },
    { endStream: false },
  );
  const chunks: Buffer[] = [];
  let headers: http2.IncomingHttpHeaders = {};
  let trailers: http2.IncomingHttpHeaders = {};
  stream.on("response", (h) => {
    headers = h;
  });
  stream.on("trailers", (t) => {
    trailers = t;
  });
  stream.on("data", (chunk: Buffer) => chunks.push(chunk));
  let error: Error | undefined;
  stream.on("error", (err) => {
    error = err;
  });
  const done = new Promise<CallResult>((resolve) => {
    stream.on("close", () => {
      const body = Buffer.concat(chunks);
      const status = trailers["grpc-status"] ?? headers["grpc-status"];
      const message = trailers["grpc-message"] ?? headers["grpc-message"];
      resolve({
        grpcStatus: status === undefined ? undefined : String(status),
        grpcMessage: error?.message ?? (message === undefined ? undefined : String(message)),
        response: body.length >= 5 ? SetResponse.decode(body.subarray(5)) : undefined,
      });
    });
  });
  return {
    done,
    sendMessage() {
      const message = SetRequest.encode({ key, value }).finish();
      const frame = Buffer.alloc(5 + message.length);
      frame.writeUInt32BE(message.length, 1);
      frame.set(message, 5);
      stream.end(frame);
    },
  };
}

function ping(h2: http2.ClientHttp2Session): Promise<void> {
  return new Promise((resolve, reject) => {
    h2.ping((err) => (err ? reject(err) : resolve()));
  });
}

function connectOnce(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("connect", () => {
      socket.destroy();
      resolve();
    });
    socket.on("error", reject);
  });
}
