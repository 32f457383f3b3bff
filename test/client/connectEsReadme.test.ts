// The README's Connect-ES recipe (Other clients) runs as written: its buf.gen.yaml makes
// protoc-gen-es code in a temp project (never in src/), and its client, type-checked under
// strict, calls a real server over connect-node's gRPC transport and prints what the
// README shows.
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { test } from "node:test";
import { startServer } from "../../src/server/startServer.js";
import {
  asProjectFile,
  normalizeOutput,
  readmeBlock,
  recipeDir,
  runAsync,
  typeCheck,
} from "../support/readmeBlocks.js";
import { REPO_ROOT } from "../support/serverProcess.js";

test("the Connect-ES recipe generates with buf and its client sets, gets and is refused", async () => {
  const template = readmeBlock("connect-es-buf-gen");
  const client = readmeBlock("connect-es-client");
  assert.equal(template.lang, "yaml", "the template is YAML");
  assert.equal(client.lang, "ts", "the client is TypeScript");
  assert.ok(client.output !== undefined, "an output block follows the client");
  const server = await startServer({ port: 0, storage: "memory" });
  const { dir, cleanup } = recipeDir("connect-es-readme");
  try {
    writeFileSync(join(dir, "buf.gen.yaml"), template.body);
    // As `npx buf generate` runs it: the project's node_modules/.bin first on PATH, which is
    // where buf finds the `local: protoc-gen-es` plugin.
    const bin = join(dir, "node_modules/.bin");
    await runAsync(join(bin, "buf"), ["generate"], {
      cwd: dir,
      env: { ...process.env, PATH: `${bin}${delimiter}${process.env.PATH}` },
    });
    assert.ok(
      existsSync(join(dir, "gen/sessiond/v1/session_pb.ts")),
      "protoc-gen-es wrote session_pb.ts",
    );
    assert.ok(!existsSync(join(REPO_ROOT, "gen")), "nothing generated into the repository");
    writeFileSync(join(dir, "client.mts"), asProjectFile(client.body, server.address));
    await typeCheck(dir, ["client.mts"]);
    const stdout = await runAsync(process.execPath, ["--import", "tsx", "client.mts"], {
      cwd: dir,
    });
    assert.equal(normalizeOutput(stdout), normalizeOutput(client.output), "what the README shows");
  } finally {
    cleanup();
    await server.shutdown();
  }
});
