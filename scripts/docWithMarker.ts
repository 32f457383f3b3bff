import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/**
 * The document (README.md, or a guide under docs/) that holds `marker`: generated sections
 * (the bench's and the reliability run's tables) are rewritten wherever they live.
 */
export function docWithMarker(marker: string): { path: string; text: string } {
  const guides = readdirSync("docs")
    .filter((name) => name.endsWith(".md"))
    .map((name) => join("docs", name));
  for (const path of ["README.md", ...guides]) {
    const text = readFileSync(path, "utf8");
    if (text.includes(marker)) return { path, text };
  }
  throw new Error(`no document holds the marker ${marker} (README.md, docs/*.md)`);
}
