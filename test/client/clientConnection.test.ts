// The SDK's connection options: TLS to an IP address sends no server name (Node's DEP0123
// warning is not printed) yet still checks the certificate against the IP, and a token
// shorter than the server's minimum is refused when the client is built.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { promisify } from "node:util";
import { type ServiceError, status } from "@grpc/grpc-js";
import { SessionClient } from "../../src/client/SessionClient.js";
import { ConfigError } from "../../src/core/ConfigError.js";
import { MIN_TOKEN_LENGTH } from "../../src/protocol/bearerToken.js";
import { startServer } from "../../src/server/startServer.js";
import { REPO_ROOT } from "../support/serverProcess.js";
import { makeTestPki } from "../support/testPki.js";

const dir = mkdtempSync(join(tmpdir(), "sessiond-client-connection-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const pki = makeTestPki(dir);
const run = promisify(execFile);

describe("TLS to an IP address", () => {
  it("prints no DEP0123 warning: no server name is sent for 127.0.0.1", async () => {
    const server = await startServer({
      port: 0,
      storage: "memory",
      tlsCertFile: pki.serverCert,
      tlsKeyFile: pki.serverKey,
    });
    try {
      assert.match(server.address, /^127\.0\.0\.1:\d+$/);
      // In a process of its own: Node prints the warning once per process.
      const script = join(dir, "dial.mts");
      writeFileSync(
        script,
        `import { SessionClient } from ${JSON.stringify(join(REPO_ROOT, "src/client/index.ts"))};
const client = new SessionClient(${JSON.stringify(server.address)}, { tls: { ca: ${JSON.stringify(pki.caCert)} } });
const session = client.session();
await session.set("k", "over tls");
console.log(await session.get("k"));
client.close();
`,
      );
      const { stdout, stderr } = await run(process.execPath, ["--import", "tsx", script], {
        cwd: REPO_ROOT,
        timeout: 60_000,
      });
      assert.equal(stdout.trim(), "over tls", "the call went through");
      assert.doesNotMatch(stderr, /DEP0123|TLS ServerName to an IP/, "no warning");
    } finally {
      await server.shutdown();
    }
  });

  it("still checks the certificate against the IP: one that does not name it is refused", async () => {
    // The client certificate (CN=app1, DNS:app1.internal) served as the server's.
    const server = await startServer({
      port: 0,
      storage: "memory",
      tlsCertFile: pki.clientCert,
      tlsKeyFile: pki.clientKey,
    });
    const client = new SessionClient(server.address, { tls: { ca: pki.caCert } });
    try {
      await assert.rejects(client.session().set("k", 1), (err: ServiceError) => {
        assert.equal(err.code, status.UNAVAILABLE);
        assert.match(err.details, /IP: 127\.0\.0\.1 is not in the cert's list|altnames/i);
        return true;
      });
    } finally {
      client.close();
      await server.shutdown();
    }
  });

  it("with tls.serverName, checks that name instead", async () => {
    const server = await startServer({
      port: 0,
      storage: "memory",
      tlsCertFile: pki.clientCert,
      tlsKeyFile: pki.clientKey,
    });
    const client = new SessionClient(server.address, {
      tls: { ca: pki.caCert, serverName: "app1.internal" },
    });
    try {
      assert.equal((await client.session().set("k", 1)).version, 1);
    } finally {
      client.close();
      await server.shutdown();
    }
  });
});

describe("tokens shorter than the server's minimum", () => {
  const short = "a".repeat(MIN_TOKEN_LENGTH - 1);
  const enough = "b".repeat(MIN_TOKEN_LENGTH);

  it(`are refused with a ConfigError, as a string, from the environment or a file (${MIN_TOKEN_LENGTH} is the minimum)`, () => {
    const file = join(dir, "short-token");
    writeFileSync(file, `${short}\n`);
    process.env.SESSIOND_TEST_SHORT_TOKEN = short;
    try {
      for (const token of [short, { env: "SESSIOND_TEST_SHORT_TOKEN" }, { file }]) {
        assert.throws(
          () => new SessionClient("127.0.0.1:1", { token }),
          (err: unknown) =>
            err instanceof ConfigError &&
            err.message.includes(`at least ${MIN_TOKEN_LENGTH} characters`) &&
            err.message.includes(`got ${MIN_TOKEN_LENGTH - 1}`) &&
            !err.message.includes(short),
          JSON.stringify(token),
        );
      }
    } finally {
      delete process.env.SESSIOND_TEST_SHORT_TOKEN;
    }
  });

  it(`one of exactly ${MIN_TOKEN_LENGTH} characters is taken by the SDK and by the server`, async () => {
    const tokens = join(dir, "tokens.txt");
    writeFileSync(tokens, `${enough} read,write\n`);
    chmodSync(tokens, 0o600);
    const server = await startServer({ port: 0, storage: "memory", authTokensFile: tokens });
    const client = new SessionClient(server.address, { token: enough });
    try {
      assert.equal((await client.session().set("k", 1)).version, 1);
    } finally {
      client.close();
      await server.shutdown();
    }
  });
});
