/**
 * The README's code, as tests run it: a fenced block is found by the HTML comment
 * `<!-- readme-check: NAME -->` just above it (invisible on GitHub), so a recipe cannot
 * drift from what its test runs, and a block lost in an edit fails the test by name.
 */
import { execFile } from "node:child_process";
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { REPO_ROOT } from "./serverProcess.js";

/**
 * The README and the guides under docs/ as one text: a recipe is found by its marker
 * wherever it lives, so moving a section between them needs no test changed.
 */
export const README = [
  "README.md",
  ...readdirSync(join(REPO_ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .sort()
    .map((name) => join("docs", name)),
]
  .map((path) => readFileSync(join(REPO_ROOT, path), "utf8"))
  .join("\n\n");

export interface ReadmeBlock {
  /** The fence's language (`ts`, `sh`, `python`, `yaml`, …). */
  lang: string;
  body: string;
  /** The plain ``` block right after it, when there is one: what running it prints. */
  output: string | undefined;
}

const FENCE = /^\s*```(\w*)\n([\s\S]*?)^```$/m;

/** The fenced block right after `<!-- readme-check: name -->`; throws when there is none. */
export function readmeBlock(name: string, readme: string = README): ReadmeBlock {
  const marker = `<!-- readme-check: ${name} -->`;
  const at = readme.indexOf(marker);
  if (at === -1) throw new Error(`README.md and docs/*.md have no "${marker}"`);
  if (readme.indexOf(marker, at + 1) !== -1)
    throw new Error(`README.md and docs/*.md have "${marker}" twice`);
  const rest = readme.slice(at + marker.length);
  const m = FENCE.exec(rest);
  if (m === null || m.index !== 0) throw new Error(`no fenced block right after "${marker}"`);
  const after = FENCE.exec(rest.slice(m[0].length));
  const output = after !== null && after.index === 0 && after[1] === "" ? after[2] : undefined;
  return { lang: m[1] as string, body: m[2] as string, output };
}

/** Ids and times vary from run to run; everything else must match the README exactly. */
export const normalizeOutput = (text: string): string =>
  text
    .replace(/\b[0-9a-z]{32}\b/g, "<ID>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<TIME>")
    .trim();

/**
 * A fresh directory laid out as a project that depends on sessiond: `node_modules/` holds
 * the repository's packages (as links) and `sessiond/proto/`, where the npm package ships
 * the protos. There is no `proto/` at its top, so a recipe that only works in a checkout
 * fails here. `cleanup()` removes it.
 */
export function recipeDir(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), `sessiond-${prefix}-`));
  const modules = join(dir, "node_modules");
  mkdirSync(join(modules, "sessiond"), { recursive: true });
  for (const name of readdirSync(join(REPO_ROOT, "node_modules"))) {
    if (name === "sessiond") continue;
    symlinkSync(join(REPO_ROOT, "node_modules", name), join(modules, name), "dir");
  }
  symlinkSync(join(REPO_ROOT, "proto"), join(modules, "sessiond/proto"), "dir");
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * README TypeScript as a dependent project would run it, with `sessiond` and its subpaths
 * pointing at this repository's sources, and the README's address replaced by `address`.
 */
export function asProjectFile(body: string, address: string): string {
  return body
    .replace(/"sessiond(?:\/(\w+))?"/g, (_, name: string | undefined) =>
      JSON.stringify(join(REPO_ROOT, `src/${name ?? "core"}/index.ts`)),
    )
    .replaceAll("127.0.0.1:50051", address);
}

const run = promisify(execFile);

/** `tsc --noEmit --strict` over `files` in `dir`: README code must type-check as written. */
export async function typeCheck(dir: string, files: string[]): Promise<void> {
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      compilerOptions: {
        target: "ES2022",
        module: "NodeNext",
        moduleResolution: "NodeNext",
        strict: true,
        noEmit: true,
        skipLibCheck: true,
        allowImportingTsExtensions: true,
        types: ["node"],
      },
      files,
    }),
  );
  try {
    await run(join(REPO_ROOT, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: dir });
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    throw new Error(`README code does not type-check:\n${e.stdout}${e.stderr}`);
  }
}

/** Runs a command without blocking this process (the server under test may live in it). */
export async function runAsync(
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): Promise<string> {
  try {
    const { stdout } = await run(command, args, { ...options, timeout: 60_000 });
    return stdout;
  } catch (err) {
    const e = err as { code?: unknown; stdout?: string; stderr?: string };
    throw new Error(`${command} ${args.join(" ")} failed (${e.code}):\n${e.stdout}${e.stderr}`);
  }
}
