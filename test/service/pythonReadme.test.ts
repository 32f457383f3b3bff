// The README's Python recipe (Other clients) runs as written: its protoc line makes the
// message classes, its client.py talks to a real server and prints what the README shows.
// Needs Debian's python3-grpcio, python3-protobuf and protoc, and fails naming them.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { startServer } from "../../src/server/startServer.js";
import { normalizeOutput, readmeBlock, recipeDir, runAsync } from "../support/readmeBlocks.js";
import {
  APT_PACKAGES,
  requireProtoc,
  requirePython,
  SYSTEM_PYTHON,
} from "../support/systemTools.js";

test("the Python recipe's apt-get line names only packages the tests install", () => {
  const [install] = readmeBlock("python-setup").body.split("\n");
  const prefix = "sudo apt-get install -y ";
  assert.ok(install?.startsWith(prefix), `the set-up starts with "${prefix}…", got: ${install}`);
  const named = install.slice(prefix.length).split(" ");
  for (const pkg of ["python3-grpcio", "python3-protobuf", "protobuf-compiler"]) {
    assert.ok(named.includes(pkg), `the recipe installs ${pkg}`);
  }
  for (const pkg of named) {
    assert.ok(
      (APT_PACKAGES as readonly string[]).includes(pkg),
      `${pkg} is in the README's first line`,
    );
  }
});

test("the Python recipe generates stubs with protoc and its client sets and gets", async () => {
  requirePython();
  requireProtoc();
  const setUp = readmeBlock("python-setup");
  const client = readmeBlock("python-client");
  assert.equal(setUp.lang, "sh", "the set-up is shell");
  assert.equal(client.lang, "python", "the client is Python");
  assert.ok(client.output !== undefined, "an output block follows client.py");
  const commands = setUp.body.trim().split("\n").slice(1); // apt-get is the machine's business
  assert.ok(
    commands.at(-1)?.startsWith(`${SYSTEM_PYTHON} client.py `),
    "the last command runs client.py with Debian's python3",
  );
  const server = await startServer({ port: 0, storage: "memory" });
  const { dir, cleanup } = recipeDir("python-readme");
  try {
    writeFileSync(join(dir, "client.py"), client.body);
    const script = ["set -e", ...commands].join("\n").replaceAll("127.0.0.1:50051", server.address);
    const stdout = await runAsync("bash", ["-c", script], { cwd: dir });
    assert.equal(normalizeOutput(stdout), normalizeOutput(client.output), "what the README shows");
  } finally {
    cleanup();
    await server.shutdown();
  }
});
