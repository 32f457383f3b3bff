/**
 * Reads the import specifiers of a TypeScript source without a compiler: the statements
 * we write are regular enough (biome formats them), and a scanner the next engineer can
 * read beats a dependency on the compiler's API, which TypeScript 7 no longer ships.
 */

export interface SourceImport {
  specifier: string;
  /** `import type` / `export type`: erased at build time, so it loads nothing. */
  typeOnly: boolean;
  /** `await import(...)`: loaded only when that code path runs. */
  dynamic: boolean;
  line: number;
}

// Statements start a line (after indentation); comments start with `//` or `*`, so an
// example in a doc comment is never mistaken for an import.
const STATIC = /^[ \t]*(import|export)\s+(type\s+)?(?:[^"';]*?\sfrom\s+)?["']([^"']+)["']/gm;
const DYNAMIC = /\bimport\(\s*["']([^"']+)["']\s*\)/g;

export function scanImports(text: string): SourceImport[] {
  const found: SourceImport[] = [];
  for (const match of text.matchAll(STATIC)) {
    const [, , typeKeyword, specifier] = match;
    const statement = match[0];
    found.push({
      specifier: specifier as string,
      typeOnly: typeKeyword !== undefined || everyNameTyped(statement),
      dynamic: false,
      line: lineOf(text, match.index),
    });
  }
  for (const match of text.matchAll(DYNAMIC)) {
    const lineStart = text.lastIndexOf("\n", match.index) + 1;
    const before = text.slice(lineStart, match.index).trimStart();
    if (before.startsWith("//") || before.startsWith("*")) continue;
    // `typeof import("x")` names a type; it loads nothing.
    const typeOnly = /typeof\s+$/.test(text.slice(Math.max(0, match.index - 10), match.index));
    found.push({
      specifier: match[1] as string,
      typeOnly,
      dynamic: !typeOnly,
      line: lineOf(text, match.index),
    });
  }
  return found;
}

/** `import { type A, type B } from "x"` loads nothing either: every name is a type. */
function everyNameTyped(statement: string): boolean {
  const names = /^\s*(?:import|export)\s*\{([^}]*)\}/.exec(statement)?.[1];
  if (names === undefined) return false;
  const list = names
    .split(",")
    .map((name) => name.trim())
    .filter((name) => name !== "");
  return list.length > 0 && list.every((name) => name.startsWith("type "));
}

function lineOf(text: string, index: number): number {
  let line = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}
