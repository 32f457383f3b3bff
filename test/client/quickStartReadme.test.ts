// The README's library quick start, run as a dependent project would run it: type-checked
// strictly, then executed in a fresh directory, printing what the README shows.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import {
  asProjectFile,
  normalizeOutput,
  readmeBlock,
  recipeDir,
  runAsync,
  typeCheck,
} from "../support/readmeBlocks.js";

test("the README's quick start type-checks, runs and prints what the README shows", async () => {
  const block = readmeBlock("quick-start");
  assert.equal(block.lang, "ts");
  assert.ok(block.output !== undefined, "the quick start shows its output");
  const { dir, cleanup } = recipeDir("quick-start");
  try {
    writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
    writeFileSync(join(dir, "main.ts"), asProjectFile(block.body, "127.0.0.1:0"));
    await typeCheck(dir, ["main.ts"]);
    const out = await runAsync(process.execPath, ["--import", "tsx", "main.ts"], { cwd: dir });
    assert.equal(normalizeOutput(out), normalizeOutput(block.output));
  } finally {
    cleanup();
  }
});
