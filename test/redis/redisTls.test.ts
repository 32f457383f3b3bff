// rediss://: the Redis storages over TLS with a password, against a redis-server this file
// starts with a certificate signed by a CA it makes with openssl, and the server setting
// SESSIOND_REDIS_TLS_CA_FILE that trusts that CA.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SessionClient } from "../../src/client/SessionClient.js";
import { ConfigError } from "../../src/core/ConfigError.js";
import { resolveLimits } from "../../src/core/Limits.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import { freePort, type RedisProcess, startRedis } from "../support/redisServers.js";
import { createTestRedisStorage, memoryLogger, REDIS_KINDS } from "../support/redisStorages.js";
import { requireTool } from "../support/systemTools.js";

const PASSWORD = "tls-s3cret";
const dir = mkdtempSync(join(tmpdir(), "sessiond-tls-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A CA, and a server certificate for 127.0.0.1 that it signed. */
function makeCertificates(): { ca: string; cert: string; key: string } {
  const files = {
    ca: join(dir, "ca.pem"),
    cert: join(dir, "server.pem"),
    key: join(dir, "server.key"),
  };
  const run = (...args: string[]) => {
    const out = spawnSync(requireTool("openssl", "openssl"), args, { cwd: dir, encoding: "utf8" });
    assert.equal(out.status, 0, `openssl ${args[0]} failed: ${out.stderr}`);
  };
  run(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-days",
    "2",
    "-subj",
    "/CN=sessiond test CA",
    "-keyout",
    "ca.key",
    "-out",
    files.ca,
  );
  run(
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-subj",
    "/CN=localhost",
    "-keyout",
    files.key,
    "-out",
    "server.csr",
  );
  writeFileSync(join(dir, "ext.cnf"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  run(
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    files.ca,
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    files.cert,
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  );
  return files;
}

let certs: { ca: string; cert: string; key: string };
let redis: RedisProcess;
let tlsUrl: string;

before(async () => {
  certs = makeCertificates();
  const tlsPort = await freePort();
  // The plain port stays for the harness' readiness check and redis-cli; clients use TLS.
  redis = await startRedis({
    args: [
      "--tls-port",
      String(tlsPort),
      "--tls-cert-file",
      certs.cert,
      "--tls-key-file",
      certs.key,
      "--tls-ca-cert-file",
      certs.ca,
      "--tls-auth-clients",
      "no",
      "--requirepass",
      PASSWORD,
    ],
  });
  tlsUrl = `rediss://:${PASSWORD}@127.0.0.1:${tlsPort}`;
});
after(() => redis?.stop());

const expiry = { ttlMs: 60_000 };
const options = { ...expiry, limits: resolveLimits(), mode: "upsert" as const };

describe("Redis over TLS (rediss://)", () => {
  for (const kind of REDIS_KINDS) {
    test(`${kind}: with the CA, writes and reads go over TLS; the password never reaches the logs`, async () => {
      const logger = memoryLogger();
      const storage = createTestRedisStorage(
        kind,
        { url: tlsUrl, tls: { ca: readFileSync(certs.ca) } },
        { logger },
      );
      try {
        const id = newSessionId();
        await storage.apply(
          id,
          { ops: [{ type: "set", key: "k", value: { over: "tls" } }] },
          options,
        );
        assert.deepEqual((await storage.readKey(id, "k", expiry))?.value, { over: "tls" });
        // The data is in that redis-server: seen through its plain port with the password.
        const key = storage.keyOf(id);
        assert.equal(redis.cli("-a", PASSWORD, "--no-auth-warning", "EXISTS", key), "1");
        assert.ok(logger.lines.some((l) => l.msg === "redis connected"));
        assert.doesNotMatch(JSON.stringify(logger.lines), new RegExp(PASSWORD));
      } finally {
        await storage.close();
      }
    });
  }

  test("without the CA the server's certificate is refused: UNAVAILABLE naming why, within the bound", async () => {
    const storage = createTestRedisStorage("redis-hash", { url: tlsUrl, commandTimeoutMs: 500 });
    try {
      const started = Date.now();
      await assert.rejects(storage.readKey(newSessionId(), "k", expiry), (err) => {
        assert.ok(err instanceof SessionError, String(err));
        assert.equal(err.code, "unavailable");
        assert.match(err.message, /certificate/i);
        return true;
      });
      assert.ok(Date.now() - started < 5_000, "failed within the bound, not at a deadline");
    } finally {
      await storage.close();
    }
  });

  test("TLS settings with a plain redis:// url are refused at once", () => {
    assert.throws(
      () => createTestRedisStorage("redis", { url: redis.url, tls: { ca: "x" } }),
      (err) =>
        err instanceof ConfigError &&
        err.option === "tls" &&
        /rediss:\/\/ url only/.test(err.message),
    );
  });
});

describe("SESSIOND_REDIS_TLS_CA_FILE", () => {
  let server: RunningServer | undefined;
  after(() => server?.shutdown());

  test("the server trusts the CA in the file: Set and Get through SessionService over TLS", async () => {
    const { config } = parseConfig(
      ["--port", "0", "--storage", "redis-hash", "--log-level", "error"],
      { SESSIOND_REDIS_URL: tlsUrl, SESSIOND_REDIS_TLS_CA_FILE: certs.ca },
    );
    server = await startServer(config);
    const client = new SessionClient(server.address);
    try {
      const session = client.session();
      await session.set("cart", ["book"]);
      assert.deepEqual(await client.session(session.id).get("cart"), ["book"]);
    } finally {
      client.close();
    }
  });

  test("a missing file, a file without a certificate, or no rediss:// url stop start-up with one line", () => {
    const notPem = join(dir, "not.pem");
    writeFileSync(notPem, "hello\n");
    const cases: [Record<string, string>, RegExp][] = [
      [
        { SESSIOND_REDIS_URL: tlsUrl, SESSIOND_REDIS_TLS_CA_FILE: join(dir, "missing.pem") },
        /SESSIOND_REDIS_TLS_CA_FILE \(--redis-tls-ca-file\): expected a readable PEM file of CA certificates \(reading it failed: ENOENT\)/,
      ],
      [
        { SESSIOND_REDIS_URL: tlsUrl, SESSIOND_REDIS_TLS_CA_FILE: notPem },
        /no BEGIN CERTIFICATE block/,
      ],
      [
        { SESSIOND_REDIS_URL: redis.url, SESSIOND_REDIS_TLS_CA_FILE: certs.ca },
        /applies to a rediss:\/\/ SESSIOND_REDIS_URL only/,
      ],
      [
        { SESSIOND_REDIS_CLUSTER_NODES: "127.0.0.1:7000", SESSIOND_REDIS_TLS_CA_FILE: certs.ca },
        /applies to a rediss:\/\/ SESSIOND_REDIS_URL only/,
      ],
    ];
    for (const [env, message] of cases) {
      assert.throws(
        () => parseConfig(["--storage", "redis"], env),
        (err) =>
          err instanceof ConfigError && message.test(err.message) && !err.message.includes("\n"),
      );
    }
  });
});
