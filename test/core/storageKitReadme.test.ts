// The README's storage-kit example is the MapDocumentStore the engine's own tests run on
// (test/core/engine.test.ts): held equal here, so the README never shows a backend that
// does not pass both suites; and the names it imports are ones the kit exports.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { README } from "../support/readmeBlocks.js";

const root = new URL("../../", import.meta.url);
const MARKER = "<!-- storage-kit example: src/testing/MapDocumentStore.ts -->";
/** Where both texts start to be the same: the imports differ (package vs. source paths). */
const FROM = "/** What a name holds";

function readmeExample(): string {
  const readme = README;
  const at = readme.indexOf(MARKER);
  assert.ok(at >= 0, `README.md has no ${MARKER}`);
  const block = /```ts\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block?.[1] !== undefined, "no ts block after the marker");
  return block[1];
}

test("the README's example backend is src/testing/MapDocumentStore.ts", () => {
  const example = readmeExample();
  const source = readFileSync(new URL("src/testing/MapDocumentStore.ts", root), "utf8");
  assert.equal(example.slice(example.indexOf(FROM)), source.slice(source.indexOf(FROM)));
});

test("the values the README's example imports are exported by sessiond/storage-kit", async () => {
  const imports = /import \{([\s\S]*?)\} from "sessiond\/storage-kit";/.exec(readmeExample());
  assert.ok(imports?.[1] !== undefined, "the example imports from sessiond/storage-kit");
  const values = imports[1]
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "" && !name.startsWith("type "));
  assert.ok(values.length >= 5, `expected the example's value imports, got ${values}`);
  const kit: Record<string, unknown> = await import("../../src/storage-kit/index.js");
  for (const name of values)
    assert.notEqual(kit[name], undefined, `storage-kit exports no ${name}`);
});
