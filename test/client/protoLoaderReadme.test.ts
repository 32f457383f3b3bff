// The README's @grpc/proto-loader recipe (Other clients) runs as written against a real
// server and prints what the README shows under it; it type-checks under strict too.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
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

test("the proto-loader recipe sets with toValue, gets with fromValue, and shows both refusals", async () => {
  const recipe = readmeBlock("proto-loader");
  assert.equal(recipe.lang, "ts", "the recipe is TypeScript");
  assert.ok(recipe.output !== undefined, "an output block follows the recipe");
  const server = await startServer({ port: 0, storage: "memory" });
  const { dir, cleanup } = recipeDir("proto-loader-readme");
  try {
    writeFileSync(join(dir, "recipe.mts"), asProjectFile(recipe.body, server.address));
    await typeCheck(dir, ["recipe.mts"]);
    const stdout = await runAsync(process.execPath, ["--import", "tsx", "recipe.mts"], {
      cwd: dir,
    });
    assert.equal(normalizeOutput(stdout), normalizeOutput(recipe.output), "what the README shows");
  } finally {
    cleanup();
    await server.shutdown();
  }
});
