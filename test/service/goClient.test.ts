// The README's Go recipe (Other clients) runs as written, from a directory laid out as a
// project that depends on sessiond: protoc-gen-go and protoc-gen-go-grpc make the stubs
// from node_modules/sessiond/proto, `go build` builds examples/go/main.go in GOPATH mode
// with Debian's sources, and the client sets and gets over TLS with a bearer token against
// a real server, printing what the README shows. Without Go or the packages it fails,
// naming them.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { startServer } from "../../src/server/startServer.js";
import { goEnv, requireGo } from "../support/goToolchain.js";
import { normalizeOutput, readmeBlock, recipeDir, runAsync } from "../support/readmeBlocks.js";
import { REPO_ROOT } from "../support/serverProcess.js";
import { APT_PACKAGES } from "../support/systemTools.js";
import { makeTestPki } from "../support/testPki.js";

const pkiDir = mkdtempSync(join(tmpdir(), "sessiond-go-pki-"));
after(() => rmSync(pkiDir, { recursive: true, force: true }));

test("the Go recipe's apt-get line names the Go packages, all of them in the tests' install line", () => {
  const [install] = readmeBlock("go-setup").body.split("\n");
  const prefix = "sudo apt-get install -y ";
  assert.ok(install?.startsWith(prefix), `the set-up starts with "${prefix}…", got: ${install}`);
  const named = install.slice(prefix.length).split(" ");
  for (const pkg of [
    "golang-go",
    "golang-google-grpc-dev",
    "protoc-gen-go",
    "protoc-gen-go-grpc",
  ]) {
    assert.ok(named.includes(pkg), `the recipe installs ${pkg}`);
  }
  assert.ok(
    !named.includes("golang-goprotobuf-dev"),
    "protoc-gen-go 1.3 cannot do proto3 optional",
  );
  for (const pkg of named) {
    assert.ok(
      (APT_PACKAGES as readonly string[]).includes(pkg),
      `${pkg} is in the README's first line`,
    );
  }
});

test("the README shows examples/go/main.go as it is, gofmt-clean", async () => {
  requireGo();
  const shown = readmeBlock("go-client");
  assert.equal(shown.lang, "go");
  assert.equal(shown.body, readFileSync(join(REPO_ROOT, "examples/go/main.go"), "utf8"));
  const unformatted = await runAsync(
    "gofmt",
    ["-l", "examples/go", "test/support/go_depth_client"],
    { cwd: REPO_ROOT },
  );
  assert.equal(unformatted, "", "gofmt -l lists no file");
});

test("the Go recipe generates stubs, builds, and its client sets and gets over TLS with a token", async () => {
  requireGo();
  const setUp = readmeBlock("go-setup");
  const client = readmeBlock("go-client");
  assert.equal(setUp.lang, "sh", "the set-up is shell");
  assert.ok(client.output !== undefined, "an output block follows main.go");
  const commands = setUp.body.trim().split("\n").slice(1); // apt-get is the machine's business
  assert.match(commands.at(-1) ?? "", /^SESSIOND_TOKEN="\$TOKEN" \.\/sessiond-client /);

  const pki = makeTestPki(pkiDir);
  const token = randomBytes(32).toString("hex");
  const tokens = join(pkiDir, "tokens.txt");
  writeFileSync(tokens, `${token} read,write\n`);
  chmodSync(tokens, 0o600);
  const server = await startServer({
    port: 0,
    storage: "memory",
    tlsCertFile: pki.serverCert,
    tlsKeyFile: pki.serverKey,
    authTokensFile: tokens,
  });
  const { dir, cleanup } = recipeDir("go-readme");
  try {
    writeFileSync(join(dir, "main.go"), client.body);
    copyFileSync(pki.caCert, join(dir, "ca.crt"));
    const script = ["set -e", ...commands].join("\n").replaceAll("127.0.0.1:50051", server.address);
    // The recipe exports GOPATH and GO111MODULE itself; goEnv adds GOPROXY=off, so nothing
    // can come from the network.
    const env = { ...goEnv(join(dir, "go")), TOKEN: token };
    const stdout = await runAsync("bash", ["-c", script], { cwd: dir, env });
    assert.equal(normalizeOutput(stdout), normalizeOutput(client.output), "what the README shows");

    // The token is what lets it in: without one the same binary is refused.
    await assert.rejects(
      runAsync("./sessiond-client", ["-addr", server.address, "-ca", "ca.crt"], {
        cwd: dir,
        env: { ...process.env, SESSIOND_TOKEN: "" },
      }),
      /Unauthenticated/,
    );
  } finally {
    cleanup();
    await server.shutdown();
  }
});
