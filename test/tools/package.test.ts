import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));

// A consumer imports "sessiond" with plain Node (no tsx): what `npm pack` ships must work.
const consumer = `
import { Manager, MemoryStorage, SessionError } from "sessiond";
import { SessionClient } from "sessiond/client";
import { FileStorage } from "sessiond/file";
import { sessionInterceptor } from "sessiond/grpc";
import { createRedisStorage } from "sessiond/redis";
import { startServer } from "sessiond/server";
import { describeStorageConformance } from "sessiond/testing";

const manager = new Manager({ storage: new MemoryStorage() });
const local = manager.session();
local.set("a", 1);
await local.commit();
let invalid;
try { manager.session("../x"); } catch (err) { invalid = err instanceof SessionError && err.code; }

const server = await startServer({ port: 0, storage: "memory", logLevel: "error" });
const client = new SessionClient("127.0.0.1:" + server.port);
const remote = client.session();
await remote.set("cart", { items: ["book"] });
const cart = await remote.get("cart");
client.close();
await server.shutdown();
await manager.close();
console.log(JSON.stringify({
  localId: local.id, invalid, remoteId: remote.id, cart, suite: typeof describeStorageConformance,
  entries: [FileStorage, sessionInterceptor, createRedisStorage].map((f) => typeof f),
}));
`;

describe("the built package", () => {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-consumer-"));
  // The build runs `rm -rf dist`: it runs in a copy, so the checkout under test is left alone.
  const pkg = join(dir, "package");
  const skipped = new Set([".git", "node_modules", "dist"]);
  cpSync(root, pkg, {
    recursive: true,
    filter: (from) => from === root || !skipped.has(basename(from)),
  });
  symlinkSync(join(root, "node_modules"), join(pkg, "node_modules"), "dir");
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("builds to dist/ and works from plain Node through its package exports", () => {
    const build = spawnSync("npm", ["run", "--silent", "build"], { cwd: pkg, encoding: "utf8" });
    assert.equal(build.status, 0, `npm run build failed:\n${build.stdout}\n${build.stderr}`);

    mkdirSync(join(dir, "node_modules"));
    symlinkSync(pkg, join(dir, "node_modules", "sessiond"), "dir");
    writeFileSync(join(dir, "package.json"), '{ "type": "module" }\n');
    writeFileSync(join(dir, "consumer.js"), consumer);
    const run = spawnSync(process.execPath, ["consumer.js"], {
      cwd: dir,
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, NODE_OPTIONS: "" },
    });
    assert.equal(run.status, 0, `consumer failed:\n${run.stdout}\n${run.stderr}`);
    const out = JSON.parse(run.stdout.trim().split("\n").at(-1) as string);
    assert.match(out.localId, /^[0-9a-z]{32}$/);
    assert.equal(out.invalid, "invalid_argument");
    assert.match(out.remoteId, /^[0-9a-z]{32}$/);
    assert.deepEqual(out.cart, { items: ["book"] });
    assert.equal(out.suite, "function");
    assert.deepEqual(out.entries, ["function", "function", "function"]);
  });

  it("ships dist/, the protos and the README, and no tests", () => {
    const pack = spawnSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], {
      cwd: pkg,
      encoding: "utf8",
    });
    assert.equal(pack.status, 0, pack.stderr);
    const files: string[] = JSON.parse(pack.stdout)[0].files.map((f: { path: string }) => f.path);
    for (const wanted of [
      ...["core", "file", "redis", "grpc", "client", "server"].flatMap((entry) => [
        `dist/${entry}/index.js`,
        `dist/${entry}/index.d.ts`,
      ]),
      "dist/testing/index.js",
      "dist/server/main.js",
      "proto/sessiond/v1/session.proto",
      "README.md",
    ]) {
      assert.ok(files.includes(wanted), `${wanted} missing from the package`);
    }
    assert.ok(!files.some((f) => f.startsWith("test/") || f.startsWith("src/")), "sources leaked");
  });
});
