// The security settings as the command line reads them: which hosts count as loopback,
// which combinations are refused (with one line naming the setting), and the defaults.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ConfigError } from "../../src/core/ConfigError.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { isLoopbackHost } from "../../src/server/security/isLoopbackHost.js";
import { requirementOf } from "../../src/server/security/methodScopes.js";
import { RefusalLog } from "../../src/server/security/RefusalLog.js";

const dir = mkdtempSync(join(tmpdir(), "sessiond-security-config-"));
const file = join(dir, "some.pem");
writeFileSync(file, "x");
after(() => rmSync(dir, { recursive: true, force: true }));

test("loopback hosts: 127.0.0.0/8, ::1 in any spelling, localhost; nothing else", () => {
  for (const host of [
    "127.0.0.1",
    "127.255.0.9",
    "::1",
    "[::1]",
    "0:0:0:0:0:0:0:1",
    "::ffff:127.0.0.1",
    "localhost",
    "LocalHost",
  ]) {
    assert.equal(isLoopbackHost(host), true, host);
  }
  for (const host of [
    "0.0.0.0",
    "::",
    "10.1.2.3",
    "192.168.0.1",
    "128.0.0.1",
    "::2",
    "::ffff:10.0.0.1",
    "example.com",
    "localhost.example.com",
  ]) {
    assert.equal(isLoopbackHost(host), false, host);
  }
});

test("refused combinations name the setting in one line", () => {
  const refused = (argv: string[], message: RegExp) =>
    assert.throws(
      () => parseConfig(argv, {}),
      (err: Error) =>
        err instanceof ConfigError && message.test(err.message) && !err.message.includes("\n"),
    );
  refused(
    ["--tls-cert-file", file],
    /--tls-cert-file\) and SESSIOND_TLS_KEY_FILE \(--tls-key-file\): expected both or neither/,
  );
  refused(["--tls-key-file", file], /expected both or neither/);
  refused(["--tls-client-ca-file", file], /mTLS needs TLS/);
  refused(["--tls-client-names", "app1"], /set --tls-client-ca-file too/);
  refused(["--tls-client-names", "app1,,app2"], /comma-separated names/);
  refused(
    ["--tls-cert-file", join(dir, "missing.pem")],
    /--tls-cert-file \(SESSIOND_TLS_CERT_FILE\): expected a readable file .*ENOENT/,
  );
  refused(["--auth-tokens-file", dir], /EISDIR/);
  refused(["--reflection", "sometimes"], /one of auto, on, off/);
  refused(
    ["--host", "::"],
    /^--host :: is reachable from the network but neither TLS nor tokens are set/,
  );
});

test("a non-loopback host starts with TLS, with tokens, or with --allow-insecure", () => {
  const tls = ["--tls-cert-file", file, "--tls-key-file", file];
  assert.equal(parseConfig(["--host", "0.0.0.0", ...tls]).config.tlsCertFile, file);
  assert.equal(
    parseConfig(["--host", "0.0.0.0", "--auth-tokens-file", file]).config.authTokensFile,
    file,
  );
  assert.equal(
    parseConfig([], { SESSIOND_HOST: "::", SESSIOND_ALLOW_INSECURE: "true" }).config.allowInsecure,
    true,
  );
  const defaults = parseConfig([]).config;
  assert.equal(defaults.reflection, "auto");
  assert.equal(defaults.authHealth, false);
  assert.equal(defaults.allowInsecure, false);
  assert.deepEqual(
    parseConfig(["--tls-client-names", "app1, app2.internal", "--tls-client-ca-file", file, ...tls])
      .config.tlsClientNames,
    ["app1", "app2.internal"],
  );
});

test("method scopes: reads, writes, admin for anything new, health open unless asked", () => {
  const path = (m: string) => `/sessiond.v1.SessionService/${m}`;
  assert.deepEqual(requirementOf(path("Get"), false), ["read"]);
  assert.deepEqual(requirementOf(path("RemoveAll"), false), ["write"]);
  assert.deepEqual(requirementOf(path("ListUserSessions"), false), ["admin"]);
  assert.equal(requirementOf("/grpc.health.v1.Health/Check", false), "open");
  assert.equal(requirementOf("/grpc.health.v1.Health/Watch", true), "any-token");
  assert.equal(
    requirementOf("/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", false),
    "any-token",
  );
});

test("a refusal log writes one line per reason per 10 s and counts the rest", () => {
  const lines: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const log = new RefusalLog({
    info() {},
    warn(msg, fields) {
      lines.push({ msg, fields });
    },
    error() {},
  });
  const t = 1_000_000;
  log.refused("/a", "UNAUTHENTICATED", "unknown or revoked token", t);
  log.refused("/a", "UNAUTHENTICATED", "unknown or revoked token", t + 1_000);
  log.refused("/b", "UNAUTHENTICATED", "unknown or revoked token", t + 2_000);
  log.refused("/a", "PERMISSION_DENIED", "lacks write", t + 3_000);
  log.refused("/a", "UNAUTHENTICATED", "unknown or revoked token", t + 10_500);
  assert.deepEqual(
    lines.map((l) => [l.fields?.reason, l.fields?.refusedSinceLastLine]),
    [
      ["unknown or revoked token", 0],
      ["lacks write", 0],
      ["unknown or revoked token", 2],
    ],
  );
});
