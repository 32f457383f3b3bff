// TLS and mTLS on real channels: the SDK, `buf curl --cacert` and Python grpcio over TLS,
// a plaintext client against the TLS port, a certificate rotation under 100 calls in
// flight, a bad certificate at reload, and mTLS with no, foreign, wrongly named and valid
// client certificates. Plus the secure default for non-loopback hosts.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect } from "node:tls";
import { credentials, status } from "@grpc/grpc-js";
import { SessionClient } from "../../src/client/SessionClient.js";
import type { Logger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import { GatedStorage } from "../support/GatedStorage.js";
import { callMethod, rawClient } from "../support/securityCalls.js";
import { REPO_ROOT, runCli } from "../support/serverProcess.js";
import { requireProtoc, requirePython } from "../support/systemTools.js";
import { makeTestPki, pem, type TestPki } from "../support/testPki.js";

interface LogEntry {
  msg: string;
  fields?: Record<string, unknown>;
}
const logs: LogEntry[] = [];
const logger: Logger = {
  info: (msg, fields) => void logs.push({ msg, fields }),
  warn: (msg, fields) => void logs.push({ msg, fields }),
  error: (msg, fields) => void logs.push({ msg, fields }),
};

async function waitForLog(msg: string, after: number): Promise<LogEntry> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = logs.slice(after).find((entry) => entry.msg === msg);
    if (found) return found;
    if (Date.now() > deadline)
      throw new Error(`no "${msg}" log; got ${JSON.stringify(logs.slice(after))}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function replaceFile(from: string, to: string): void {
  copyFileSync(from, `${to}.tmp`);
  renameSync(`${to}.tmp`, to);
}

/** The fingerprint of the certificate a new TLS connection to `port` is served. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(
      { host: "127.0.0.1", port, ca: pem(ca), servername: "localhost", ALPNProtocols: ["h2"] },
      () => {
        const fingerprint = socket.getPeerCertificate().fingerprint256;
        socket.destroy();
        resolve(fingerprint);
      },
    );
    socket.on("error", reject);
  });
}

/** A child process run to its end without blocking this process, which serves the calls. */
function runAsync(
  command: string,
  args: string[],
  options: { cwd?: string; timeout?: number; encoding?: string } = {},
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => {
      stdout += chunk;
    });
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeout ?? 60_000);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ status: null, stdout, stderr: `${stderr}${err.message}` });
    });
    child.on("close", (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    });
  });
}

const fingerprint = (path: string) => new X509Certificate(pem(path)).fingerprint256;

const dir = mkdtempSync(join(tmpdir(), "sessiond-tls-"));
let pki: TestPki;
/** The files the server is pointed at; the test swaps what they hold. */
const served = { cert: join(dir, "served", "tls.crt"), key: join(dir, "served", "tls.key") };

before(() => {
  pki = makeTestPki(dir);
  mkdirSync(join(dir, "served"));
  copyFileSync(pki.serverCert, served.cert);
  copyFileSync(pki.serverKey, served.key);
});
after(() => rmSync(dir, { recursive: true, force: true }));

describe("TLS", () => {
  const storage = new GatedStorage(new MemoryStorage());
  let server: RunningServer;
  before(async () => {
    server = await startServer(
      { port: 0, storage: "memory", tlsCertFile: served.cert, tlsKeyFile: served.key },
      { storage, logger },
    );
  });
  after(async () => {
    await server.shutdown();
    await storage.close();
  });

  test("the SDK with the CA talks to it; without the CA or in plaintext it fails at once", async () => {
    const client = new SessionClient(server.address, { tls: { ca: pki.caCert } });
    try {
      const session = client.session();
      await session.set("over", "tls");
      assert.equal(await session.get("over"), "tls");
    } finally {
      client.close();
    }
    // A long deadline: failing by DEADLINE_EXCEEDED would mean the client hung.
    for (const options of [{}, { tls: { ca: pki.otherCaCert } }]) {
      const wrong = new SessionClient(server.address, { ...options, deadlineMs: 30_000 });
      try {
        await assert.rejects(
          wrong.session("0".repeat(32)).size(),
          (err: { code: number; details: string }) => {
            assert.equal(err.code, status.UNAVAILABLE, err.details);
            return true;
          },
        );
      } finally {
        wrong.close();
      }
    }
  });

  test("a certificate rotation while 100 calls are in flight drops none", async () => {
    const client = new SessionClient(server.address, { tls: { ca: pki.caCert } });
    try {
      const seed = client.session();
      await seed.set("k", "v");
      const id = seed.id as string;
      assert.equal(await servedFingerprint(server.port, pki.caCert), fingerprint(pki.serverCert));

      storage.hold();
      const calls = Array.from({ length: 100 }, () =>
        client.session(id).get("k", { deadlineMs: 30_000 }),
      );
      const settled = Promise.allSettled(calls);
      while (storage.waiting < 100) await new Promise((resolve) => setTimeout(resolve, 5));

      const mark = logs.length;
      replaceFile(pki.serverCert2, served.cert);
      replaceFile(pki.serverKey2, served.key);
      await waitForLog("tls certificate reloaded", mark);
      assert.equal(await servedFingerprint(server.port, pki.caCert), fingerprint(pki.serverCert2));
      assert.equal(storage.waiting, 100);

      storage.release();
      const results = await settled;
      const failed = results.filter((r) => r.status === "rejected");
      assert.equal(failed.length, 0, JSON.stringify(failed.slice(0, 3)));
      assert.ok(results.every((r) => r.status === "fulfilled" && r.value === "v"));

      const fresh = new SessionClient(server.address, { tls: { ca: pki.caCert } });
      assert.equal(await fresh.session(id).get("k"), "v");
      fresh.close();
    } finally {
      storage.release();
      client.close();
    }
  });

  test("a bad certificate at reload is logged and the one in force stays", async () => {
    const before = await servedFingerprint(server.port, pki.caCert);
    let mark = logs.length;
    writeFileSync(
      `${served.cert}.tmp`,
      "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n",
    );
    renameSync(`${served.cert}.tmp`, served.cert);
    const failed = await waitForLog(
      "tls reload failed; the previous certificate stays in use",
      mark,
    );
    assert.match(String(failed.fields?.error), /--tls-cert-file .*tls\.crt: no PEM certificate/);
    assert.equal(await servedFingerprint(server.port, pki.caCert), before);

    // A certificate whose key is not the one beside it: refused the same way.
    mark = logs.length;
    replaceFile(pki.serverCert, served.cert);
    const mismatch = await waitForLog(
      "tls reload failed; the previous certificate stays in use",
      mark,
    );
    assert.match(String(mismatch.fields?.error), /the key does not belong to the certificate/);
    const client = new SessionClient(server.address, { tls: { ca: pki.caCert } });
    try {
      await client.session().set("still", "served");
    } finally {
      client.close();
    }
    assert.equal(await servedFingerprint(server.port, pki.caCert), before);
  });
});

describe("TLS from other clients", () => {
  let server: RunningServer;
  before(async () => {
    // TLS is one of the ways out of the secure default for a non-loopback host.
    server = await startServer({
      host: "0.0.0.0",
      // Off by default off loopback; buf curl below finds the schema by reflection.
      reflection: "on",
      port: 0,
      storage: "memory",
      tlsCertFile: pki.serverCert,
      tlsKeyFile: pki.serverKey,
    });
  });
  after(async () => {
    await server.shutdown();
  });

  test("buf curl --cacert over TLS", async () => {
    const buf = join(REPO_ROOT, "node_modules/.bin/buf");
    const url = `https://127.0.0.1:${server.port}/sessiond.v1.SessionService/Set`;
    const run = await runAsync(
      buf,
      ["curl", "--protocol", "grpc", "--cacert", pki.caCert, "-d", '{"key":"a","value":1}', url],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(JSON.parse(run.stdout).sessionId, /^[0-9a-z]{32}$/);
    const plain = await runAsync(
      buf,
      [
        "curl",
        "--protocol",
        "grpc",
        "--http2-prior-knowledge",
        "--schema",
        "proto",
        "-d",
        "{}",
        url.replace("https:", "http:"),
      ],
      { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 },
    );
    assert.notEqual(plain.status, 0, "buf curl in plaintext against the TLS port succeeded");
    // The server resets the connection; buf reports that as unavailable or, when the reset
    // lands while it reads, canceled. Either way at once, not at a deadline.
    assert.match(plain.stderr, /"code": "(unavailable|canceled)"/);
  });

  test("Python grpcio over TLS; its plaintext channel fails with UNAVAILABLE", async () => {
    const python = requirePython();
    const stubs = join(dir, "stubs");
    const protoc = await runAsync(
      "sh",
      [
        "-c",
        `mkdir -p "${stubs}" && "${requireProtoc()}" -I proto --python_out="${stubs}" proto/sessiond/v1/session.proto`,
      ],
      { cwd: REPO_ROOT, encoding: "utf8" },
    );
    assert.equal(protoc.status, 0, `protoc failed:\n${protoc.stderr}`);
    const run = await runAsync(
      python,
      [
        join(REPO_ROOT, "test/support/python_tls_client.py"),
        `localhost:${server.port}`,
        stubs,
        pki.caCert,
      ],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(run.status, 0, `python client failed:\n${run.stderr}`);
    const seen = JSON.parse(run.stdout) as {
      session_id: string;
      get_value: unknown;
      plaintext_code: string;
    };
    assert.match(seen.session_id, /^[0-9a-z]{32}$/);
    assert.deepEqual(seen.get_value, { over: "tls" });
    assert.equal(seen.plaintext_code, "UNAVAILABLE");
  });
});

describe("mTLS", () => {
  const storage = new GatedStorage(new MemoryStorage());
  let server: RunningServer;
  before(async () => {
    server = await startServer(
      {
        port: 0,
        storage: "memory",
        tlsCertFile: pki.serverCert,
        tlsKeyFile: pki.serverKey,
        tlsClientCaFile: pki.caCert,
        tlsClientNames: ["app1.internal", "app2"],
      },
      { storage },
    );
  });
  after(async () => {
    await server.shutdown();
    await storage.close();
  });

  const client = (cert?: string, key?: string) =>
    rawClient(
      server.address,
      credentials.createSsl(pem(pki.caCert), key ? pem(key) : null, cert ? pem(cert) : null),
      { "grpc.ssl_target_name_override": "localhost" },
    );

  test("no client certificate, or one from another CA: the handshake fails, nothing reaches storage", async () => {
    const reads = storage.reads;
    for (const c of [client(), client(pki.otherClientCert, pki.otherClientKey)]) {
      try {
        const outcome = await callMethod(c, "Get", { "x-session-id": "0".repeat(32) });
        assert.equal(outcome.code, status.UNAVAILABLE, outcome.details);
      } finally {
        c.close();
      }
    }
    assert.equal(storage.reads, reads);
  });

  test("a certificate of the CA with a name not allowed: UNAUTHENTICATED, nothing reaches storage", async () => {
    const reads = storage.reads;
    const c = client(pki.intruderCert, pki.intruderKey);
    try {
      const outcome = await callMethod(c, "Get", { "x-session-id": "0".repeat(32) });
      assert.deepEqual(outcome, {
        code: status.UNAUTHENTICATED,
        details:
          "client certificate names intruder, intruder.internal, none of them allowed by --tls-client-names",
      });
    } finally {
      c.close();
    }
    assert.equal(storage.reads, reads);
  });

  test("a valid client certificate (DNS name allowed): calls go through, SDK included", async () => {
    const c = client(pki.clientCert, pki.clientKey);
    try {
      assert.equal((await callMethod(c, "Set")).code, status.OK);
    } finally {
      c.close();
    }
    const sdk = new SessionClient(server.address, {
      tls: { ca: pki.caCert, cert: pki.clientCert, key: pki.clientKey, serverName: "localhost" },
    });
    try {
      const session = sdk.session();
      await session.set("m", "tls");
      assert.equal(await session.get("m"), "tls");
    } finally {
      sdk.close();
    }
  });
});

describe("secure defaults", () => {
  test("--host 0.0.0.0 with neither TLS nor tokens exits 2 with one line naming the ways out", async () => {
    const result = await runCli(["--host", "0.0.0.0", "--port", "0", "--storage", "memory"]);
    assert.equal(result.code, 2);
    const lines = result.stderr.trimEnd().split("\n");
    assert.equal(lines.length, 1, result.stderr);
    assert.equal(
      lines[0],
      "sessiond: --host 0.0.0.0 is reachable from the network but neither TLS nor tokens are set: give --tls-cert-file and --tls-key-file, or --auth-tokens-file, or --allow-insecure to serve it in the clear anyway",
    );
  });

  test("with --allow-insecure it starts, warns, and answers on 127.0.0.1", async () => {
    assert.equal(parseConfig(["--host", "::", "--allow-insecure"]).config.allowInsecure, true);
    const mark = logs.length;
    const server = await startServer(
      { host: "0.0.0.0", port: 0, storage: "memory", allowInsecure: true },
      { logger },
    );
    try {
      const warnings = logs.slice(mark).map((entry) => entry.msg);
      assert.ok(
        warnings.some((msg) =>
          msg.startsWith("--allow-insecure: listening on 0.0.0.0 without TLS or tokens"),
        ),
        JSON.stringify(warnings),
      );
      assert.equal(server.reflection, false, "reflection is off by default off loopback");
      const c = rawClient(`127.0.0.1:${server.port}`);
      try {
        assert.equal((await callMethod(c, "Set")).code, status.OK);
      } finally {
        c.close();
      }
    } finally {
      await server.shutdown();
    }
  });
});
