// A fresh machine: the tests that need system programs fail, naming the Debian packages,
// and the README's first set-up line and .ci/run install exactly those packages.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { README } from "../support/readmeBlocks.js";
import { REPO_ROOT } from "../support/serverProcess.js";
import { APT_INSTALL_LINE, APT_PACKAGES, requireTool } from "../support/systemTools.js";

test("a missing program fails with the package and the whole install line", () => {
  assert.throws(
    () => requireTool("sessiond-no-such-program", "some-package"),
    (err: unknown) =>
      err instanceof Error &&
      err.message.includes("sessiond-no-such-program not found on PATH") &&
      err.message.includes("`apt-get install -y some-package`") &&
      err.message.includes(APT_INSTALL_LINE),
    "requireTool should name the package and the full line",
  );
});

test("the programs the tests use are found where they are installed", () => {
  assert.match(requireTool("sh", "dash"), /\/sh$/, "sh found by its path");
});

test("the README's set-up: install and start, test, then the packages the tests name", () => {
  const first = /```sh\n([\s\S]*?)```/.exec(README);
  assert.ok(first, "README has a first sh block");
  const setUp = first[1] as string;
  assert.match(setUp, /^npm ci && npm start /m, "the first block installs and starts");
  assert.match(setUp, /^npm test /m, "and runs npm test, the command .ci/run runs");
  const apt = /```sh\n(sudo apt-get install[^\n]*)\n```/.exec(README);
  assert.ok(apt, "README has a block with the apt line");
  assert.equal(
    apt[1],
    `sudo ${APT_INSTALL_LINE}`,
    `the README's apt line should be "sudo ${APT_INSTALL_LINE}"`,
  );
});

test(".ci/run installs every package the tests name, then runs the README's npm test", () => {
  const ci = readFileSync(join(REPO_ROOT, ".ci/run"), "utf8");
  for (const pkg of APT_PACKAGES) {
    assert.match(
      ci,
      new RegExp(`missing\\+=\\([^)]*\\b${pkg}\\b`),
      `.ci/run should install ${pkg}`,
    );
  }
  assert.match(ci, /^npm test$/m, ".ci/run runs npm test");
});

test("npm run test:unit runs no test that needs a system program", () => {
  const scripts = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")).scripts;
  // The script names files and `dir/*.test.ts` patterns (Node 20 has no fs.globSync).
  const files = String(scripts["test:unit"])
    .split(" ")
    .filter((word) => word.endsWith(".ts"))
    .flatMap((word) => {
      if (!word.includes("*")) return [word];
      const dir = word.slice(0, word.lastIndexOf("/"));
      const names = readdirSync(join(REPO_ROOT, dir)).filter((n) => n.endsWith(".test.ts"));
      return names.map((name) => `${dir}/${name}`);
    });
  assert.ok(files.length > 10, `test:unit names its files, got ${files.join(", ")}`);
  // What brings a system program into a test: the helpers that start or find one.
  const needs =
    /from "[./]*\/support\/(redisServers|redisStorages|systemTools|serverProcess|testPki)\.js"/;
  for (const file of files) {
    assert.doesNotMatch(readFileSync(join(REPO_ROOT, file), "utf8"), needs, file);
  }
});
