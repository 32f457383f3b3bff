// The README's walk-throughs for a project that only depends on sessiond (Node SDK, "The
// walk-throughs with the SDK"): the tour's calls, and the Security set-ups' client with a
// token, TLS and a client certificate, run as written against real servers, printing what
// the README shows; both type-check under strict.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { startServer } from "../../src/server/startServer.js";
import {
  asProjectFile,
  normalizeOutput,
  README,
  readmeBlock,
  recipeDir,
  runAsync,
  typeCheck,
} from "../support/readmeBlocks.js";
import { makeTestPki } from "../support/testPki.js";

const pkiDir = mkdtempSync(join(tmpdir(), "sessiond-walkthrough-pki-"));
after(() => rmSync(pkiDir, { recursive: true, force: true }));

/** A "## " section of the docs, up to the next heading of its level or above. */
function sectionOf(heading: string): string {
  const start = README.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `the docs have no "${heading}"`);
  const end = README.slice(start + 1).search(/\n#{1,2} /);
  return end === -1 ? README.slice(start) : README.slice(start, start + 1 + end);
}

test("every walk-through with grpcurl or buf curl points to its SDK version", () => {
  const tour = sectionOf("## Five-minute tour");
  const tokens = README.slice(
    README.indexOf("### Set-up: tokens"),
    README.indexOf("### Set-up: TLS"),
  );
  for (const [name, text] of [
    ["Five-minute tour", tour],
    ["Set-up: tokens", tokens],
  ]) {
    assert.match(text as string, /buf curl/, `${name} uses buf curl`);
    assert.match(
      text as string,
      /\((clients\.md)?#the-walk-throughs-with-the-sdk\)/,
      `${name} links to the SDK version`,
    );
  }
  // TLS and mTLS continue from the tokens set-up; the SDK section names all three.
  const sdk = README.slice(README.indexOf("### The walk-throughs with the SDK"));
  for (const anchor of ["#set-up-tokens", "#set-up-tls", "#set-up-mtls", "#five-minute-tour"]) {
    assert.match(
      sdk,
      new RegExp(`\\((\\w+\\.md)?${anchor}\\)`),
      `the SDK section links back to ${anchor}`,
    );
  }
});

test("the tour with the SDK: set, get, setMap, getData, describe, removeAll, and the two refusals", async () => {
  const recipe = readmeBlock("sdk-tour");
  assert.equal(recipe.lang, "ts");
  assert.ok(recipe.output !== undefined, "an output block follows the script");
  const server = await startServer({ port: 0, storage: "memory" });
  const { dir, cleanup } = recipeDir("sdk-tour");
  try {
    writeFileSync(join(dir, "tour.mts"), asProjectFile(recipe.body, server.address));
    await typeCheck(dir, ["tour.mts"]);
    const stdout = await runAsync(process.execPath, ["--import", "tsx", "tour.mts"], { cwd: dir });
    assert.equal(normalizeOutput(stdout), normalizeOutput(recipe.output), "what the README shows");
  } finally {
    cleanup();
    await server.shutdown();
  }
});

test("the Security set-ups with the SDK: a token, TLS and a client certificate", async () => {
  const recipe = readmeBlock("sdk-security");
  assert.equal(recipe.lang, "ts");
  assert.ok(recipe.output !== undefined, "an output block follows the script");
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
    tlsClientCaFile: pki.caCert,
    tlsClientNames: ["app1"],
    authTokensFile: tokens,
  });
  const { dir, cleanup } = recipeDir("sdk-security");
  try {
    copyFileSync(pki.caCert, join(dir, "ca.crt"));
    copyFileSync(pki.clientCert, join(dir, "app1.crt"));
    copyFileSync(pki.clientKey, join(dir, "app1.key"));
    writeFileSync(join(dir, "secure.mts"), asProjectFile(recipe.body, server.address));
    await typeCheck(dir, ["secure.mts"]);
    const run = (env: NodeJS.ProcessEnv) =>
      runAsync(process.execPath, ["--import", "tsx", "secure.mts"], { cwd: dir, env });
    const stdout = await run({ ...process.env, TOKEN: token });
    assert.equal(normalizeOutput(stdout), normalizeOutput(recipe.output), "what the README shows");
    // The token is checked: another one is refused.
    await assert.rejects(
      run({ ...process.env, TOKEN: randomBytes(32).toString("hex") }),
      /UNAUTHENTICATED/,
    );
  } finally {
    cleanup();
    await server.shutdown();
  }
});
