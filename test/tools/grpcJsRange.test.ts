// The grpc-js range package.json claims (peerDependencies) is tested at both ends: the rest
// of `npm test` runs on the newest installed release, and this runs the interceptor suites
// again on the oldest one (installed as @grpc/grpc-js-oldest, swapped in by a resolve hook).
// grpc-js 1.10–1.12 send an id set by the interceptor only in trailers; these suites fail
// there, which is why the range starts at 1.13.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const manifest = (path: string) => JSON.parse(readFileSync(join(root, path), "utf8"));
const SUITES = ["test/grpc/interceptor.test.ts", "test/grpc/cancellation.test.ts"];

test("the peer range starts at the oldest grpc-js installed for this test", () => {
  const range: string = manifest("package.json").peerDependencies["@grpc/grpc-js"];
  const oldest: string = manifest("node_modules/@grpc/grpc-js-oldest/package.json").version;
  const newest: string = manifest("node_modules/@grpc/grpc-js/package.json").version;
  assert.equal(range, `^${oldest}`, "peerDependencies and @grpc/grpc-js-oldest disagree");
  const [major, minor] = newest.split(".").map(Number);
  assert.ok(major === 1 && (minor as number) >= 13, `newest ${newest} is outside ${range}`);
});

test("the interceptor suites pass on the oldest grpc-js in the range", () => {
  // A test runner inside a test: without this, node --test would refuse to run files.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", "--import", "./test/support/grpcJsSwap.mjs", "--test", ...SUITES],
    { cwd: root, encoding: "utf8", timeout: 240_000, env: { ...env, NODE_OPTIONS: "" } },
  );
  const out = `${run.stdout}\n${run.stderr}`;
  const oldest: string = manifest("node_modules/@grpc/grpc-js-oldest/package.json").version;
  assert.match(out, new RegExp(`grpc-js swapped: ${oldest.replaceAll(".", "\\.")} `));
  assert.equal(run.status, 0, `on grpc-js ${oldest}:\n${out.slice(-4000)}`);
  assert.match(out, /# fail 0/);
});
