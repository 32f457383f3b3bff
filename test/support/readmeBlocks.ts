/**
 * The README's code, as tests run it: a fenced block is found by the HTML comment
 * `<!-- readme-check: NAME -->` just above it (invisible on GitHub), so a recipe cannot
 * drift from what its test runs, and a block lost in an edit fails the test by name.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { REPO_ROOT } from "./serverProcess.js";

export const README = readFileSync(join(REPO_ROOT, "README.md"), "utf8");

export interface ReadmeBlock {
  /** The fence's language (`ts`, `sh`, `python`, `yaml`, …). */
  lang: string;
  body: string;
}

/** The fenced block right after `<!-- readme-check: name -->`; throws when there is none. */
export function readmeBlock(name: string, readme: string = README): ReadmeBlock {
  const marker = `<!-- readme-check: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at === -1) throw new Error(`README.md has no "${marker}"`);
  if (readme.indexOf(marker, at + 1) !== -1) throw new Error(`README.md has "${marker}" twice`);
  const m = /^\s*```(\w*)\n([\s\S]*?)^```$/m.exec(readme.slice(at + marker.length));
  if (m === null || m.index !== 0) throw new Error(`no fenced block right after "${marker}"`);
  return { lang: m[1] as string, body: m[2] as string };
}
