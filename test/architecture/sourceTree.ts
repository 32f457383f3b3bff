import { readdirSync, readFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type SourceImport, scanImports } from "./sourceImports.js";

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
export const SRC = join(REPO, "src");

export interface SourceFile {
  /** Relative to the repository, with forward slashes: `src/core/session/Session.ts`. */
  path: string;
  imports: ResolvedImport[];
}

export interface ResolvedImport extends SourceImport {
  /** Another source file (`src/...ts`), a package name, or `node:` plus a builtin. */
  target: string;
  kind: "source" | "package" | "builtin";
}

/** Every `.ts` file under `src/`, with its imports resolved. */
export function readSourceTree(root = SRC): SourceFile[] {
  return listTs(root).map((file) => ({
    path: relative(REPO, file).split("\\").join("/"),
    imports: scanImports(readFileSync(file, "utf8")).map((found) => resolveImport(file, found)),
  }));
}

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return listTs(path);
    return entry.name.endsWith(".ts") ? [path] : [];
  });
}

function resolveImport(file: string, found: SourceImport): ResolvedImport {
  const { specifier } = found;
  if (specifier.startsWith(".")) {
    // Sources import `./x.js` (NodeNext); the file on disk is `x.ts`.
    const target = relative(REPO, resolve(dirname(file), specifier.replace(/\.js$/, ".ts")));
    return { ...found, target: target.split("\\").join("/"), kind: "source" };
  }
  const bare = specifier.replace(/^node:/, "");
  if (specifier.startsWith("node:") || builtinModules.includes(bare.split("/")[0] as string)) {
    return { ...found, target: `node:${bare}`, kind: "builtin" };
  }
  return { ...found, target: packageName(specifier), kind: "package" };
}

/** `@grpc/grpc-js/build/x` → `@grpc/grpc-js`; `ioredis` → `ioredis`. */
export function packageName(specifier: string): string {
  const parts = specifier.split("/");
  return (specifier.startsWith("@") ? parts.slice(0, 2) : parts.slice(0, 1)).join("/");
}

/**
 * The layer a source file belongs to, read from its path alone: the folder under `src/`,
 * and for `core` the sub-folder (`core/session`, `core/storage`, `core/memory`), whose
 * rules are stricter than the entry point's.
 */
export function layerOf(path: string): string {
  const parts = path.split("/");
  if (parts[0] !== "src" || parts.length < 3) throw new Error(`${path} is not under src/`);
  const top = parts[1] as string;
  if (top === "core" && parts.length > 3) return `core/${parts[2]}`;
  return top;
}
