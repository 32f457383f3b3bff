// The README's Security section stays true: each set-up (tokens, TLS, mTLS) is run as
// written, openssl commands, start command and buf curl calls, against the real server
// process, and every call prints what the README shows under it (up to ids). The
// interceptor composition example runs too.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { README } from "../support/readmeBlocks.js";
import { freePort } from "../support/redisServers.js";
import { REPO_ROOT } from "../support/serverProcess.js";
import { requireTool } from "../support/systemTools.js";

const BUF = join(REPO_ROOT, "node_modules/.bin/buf");

function between(text: string, heading: string, next: RegExp): string {
  const start = text.indexOf(`\n${heading}\n`);
  assert.ok(start >= 0, `README has no "${heading}"`);
  const rest = text.slice(start + heading.length + 2);
  const end = rest.search(next);
  return end === -1 ? rest : rest.slice(0, end);
}

const security = between(README, "## Security", /\n## /);
const subsection = (title: string) => between(security, `### ${title}`, /\n### /);

interface Block {
  lang: string;
  body: string;
}

function blocks(text: string): Block[] {
  return [...text.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({
    lang: m[1] as string,
    body: (m[2] as string).replace(/\\\n\s*/g, ""),
  }));
}

interface SetUp {
  prep: string[];
  start: string;
  calls: Array<{ command: string; expected: string }>;
}

function setUp(title: string): SetUp {
  const all = blocks(subsection(title));
  const at = all.findIndex((b) => b.lang === "sh" && b.body.includes("npm start --"));
  assert.ok(at >= 0, `"${title}" has no npm start command`);
  const calls: SetUp["calls"] = [];
  for (let i = at + 1; i < all.length; i++) {
    const block = all[i] as Block;
    if (block.lang !== "sh") continue;
    const output = all[i + 1];
    assert.ok(output?.lang === "", `"${title}": no output block after ${block.body}`);
    calls.push({ command: block.body.trim(), expected: output.body.trim() });
  }
  assert.ok(calls.length > 0, `"${title}" has no call`);
  return {
    prep: all
      .slice(0, at)
      .filter((b) => b.lang === "sh")
      .map((b) => b.body.trim()),
    start: (all[at] as Block).body.trim(),
    calls,
  };
}

const normalize = (text: string) =>
  text
    .split("\n")
    .filter((line) => !line.startsWith("npm warn"))
    .join("\n")
    .replace(/\b[0-9a-z]{32}\b/g, "<ID>")
    .trim();

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A directory that looks like the repository root to the README's relative paths. */
function workDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-security-readme-"));
  dirs.push(dir);
  symlinkSync(join(REPO_ROOT, "node_modules"), join(dir, "node_modules"), "dir");
  symlinkSync(join(REPO_ROOT, "proto"), join(dir, "proto"), "dir");
  return dir;
}

const MARK = "@@step@@";

/** Runs prep, starts the server as written (on a free port), runs each call; their outputs. */
async function run(
  setup: SetUp,
  extraPrep: string[] = [],
): Promise<{ outputs: string[]; log: string }> {
  const dir = workDir();
  const port = await freePort();
  const start = setup.start.replace(
    "npm start --",
    `node --import tsx ${JSON.stringify(join(REPO_ROOT, "src/server/main.ts"))} --port ${port}`,
  );
  const call = (c: string) =>
    c.replaceAll("npx buf", JSON.stringify(BUF)).replaceAll("127.0.0.1:50051", `127.0.0.1:${port}`);
  const script = [
    "set -e",
    ...extraPrep,
    ...setup.prep,
    "set +e",
    `${start} > server.log 2>&1 &`,
    "SERVER=$!",
    "trap 'kill $SERVER; wait $SERVER' EXIT",
    'for i in $(seq 600); do grep -q \'"msg":"listening"\' server.log && break; kill -0 $SERVER || exit 3; sleep 0.1; done',
    ...setup.calls.flatMap((c) => [`${call(c.command)} 2>&1`, `echo ${MARK}`]),
    // Not in the README: SIGHUP re-reads the files and the server keeps serving.
    "kill -HUP $SERVER",
    "for i in $(seq 600); do grep -q 'SIGHUP: reloading' server.log && break; sleep 0.1; done",
    "sleep 0.2; kill -0 $SERVER || exit 4",
  ].join("\n");
  const child = spawn("bash", ["-c", script], { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk) => {
    stdout += chunk;
  });
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
  const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  let log = "";
  try {
    log = readFileSync(join(dir, "server.log"), "utf8");
  } catch {}
  assert.equal(code, 0, `set-up failed (${code}):\n${stdout}\n${stderr}\nserver log:\n${log}`);
  return { outputs: stdout.split(`${MARK}\n`).slice(0, setup.calls.length), log };
}

test("the tokens, TLS and mTLS set-ups run as written and print what the README shows", async () => {
  requireTool("openssl", "openssl"); // the set-ups' own commands use it
  const tokens = setUp("Set-up: tokens");
  const tls = setUp("Set-up: TLS");
  const mtls = setUp("Set-up: mTLS");
  // The mTLS set-up continues in the TLS set-up's directory.
  const results = await Promise.all([run(tokens), run(tls), run(mtls, tls.prep)]);
  for (const [i, setup] of [tokens, tls, mtls].entries()) {
    const { outputs, log } = results[i] as { outputs: string[]; log: string };
    for (const [j, c] of setup.calls.entries()) {
      assert.equal(
        normalize(outputs[j] ?? ""),
        normalize(c.expected),
        `${c.command}\nserver log:\n${log}`,
      );
    }
  }
  for (const { log } of results) {
    assert.match(log, /"msg":"SIGHUP: reloading the TLS and tokens files"/);
    assert.doesNotMatch(log, /reload failed|"level":"error"/);
  }
  // What each server logged says what it serves.
  assert.match(results[0]?.log ?? "", /"tls":"off","tokens":true/);
  assert.match(results[1]?.log ?? "", /"tls":"on","tokens":false/);
  assert.match(results[2]?.log ?? "", /"tls":"mtls"/);
});

test("the interceptor composition example refuses a call without the token and serves one with it", () => {
  const example = blocks(subsection("With the interceptor in your own service")).find(
    (b) => b.lang === "ts",
  );
  assert.ok(example, "no ts block");
  const dir = workDir();
  const entry = (name: string) => JSON.stringify(join(REPO_ROOT, `src/${name}/index.ts`));
  const harness = `
import { ServerCredentials } from "@grpc/grpc-js";
import { SessionClient } from ${entry("client")};
import { sessionServiceDefinition, sessionServiceImplementation } from ${entry("server")};
server.addService(sessionServiceDefinition, sessionServiceImplementation());
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
);
const codes: unknown[] = [];
for (const options of [{}, { token: "wrong-token-0123456789" }, { token: process.env.API_TOKEN }]) {
  const client = new SessionClient("127.0.0.1:" + port, options);
  try {
    await client.session().set("a", 1);
    codes.push("OK");
  } catch (err) {
    codes.push((err as { code: number }).code);
  }
  client.close();
}
server.forceShutdown();
console.log(JSON.stringify(codes));
`;
  writeFileSync(
    join(dir, "example.mts"),
    `${example.body.replace(/"sessiond(?:\/(\w+))?"/g, (_, name) => entry(name ?? "core"))}\n${harness}`,
  );
  const result = spawnSync(process.execPath, ["--import", "tsx", "example.mts"], {
    cwd: dir,
    encoding: "utf8",
    timeout: 60_000,
    env: { ...process.env, API_TOKEN: "readme-example-token-0123" },
  });
  assert.equal(result.status, 0, result.stderr);
  // 16 = UNAUTHENTICATED
  assert.deepEqual(JSON.parse(result.stdout.trim().split("\n").at(-1) as string), [16, 16, "OK"]);
});
