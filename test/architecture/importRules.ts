import { layerOf, type ResolvedImport, type SourceFile } from "./sourceTree.js";

/**
 * Which layer may import what. The table is the architecture: docs/ARCHITECTURE.md
 * describes it in words, and importRules.test.ts holds the code to it.
 */
export interface LayerRule {
  /** Layers whose files this layer may import (its own is always allowed). */
  layers: readonly string[];
  /** npm packages it may import. */
  packages: readonly string[];
  /** npm packages it may name in `import type` only (erased at build time). */
  typePackages?: readonly string[];
  /** `true`: any builtin. `false`: only those that do no I/O (crypto, v8, timers, …). */
  ioBuiltins: boolean;
}

const CORE = ["core", "core/storage", "core/engine", "core/memory", "core/session"] as const;

export const LAYER_RULES: Readonly<Record<string, LayerRule>> = {
  // The core is ordered: errors and limits, then the storage contract, then the memory
  // storage, then Manager and Session (whose default storage is the memory one).
  core: { layers: [], packages: [], ioBuiltins: false },
  "core/storage": { layers: ["core"], packages: [], ioBuiltins: false },
  // The engine: the session rules over any DocumentStore (file, encrypted Redis, yours).
  "core/engine": { layers: ["core", "core/storage"], packages: [], ioBuiltins: false },
  "core/memory": { layers: ["core", "core/storage"], packages: [], ioBuiltins: false },
  "core/session": {
    layers: ["core", "core/storage", "core/memory"],
    packages: [],
    ioBuiltins: false,
  },
  file: { layers: CORE, packages: [], ioBuiltins: true },
  // gen: only src/gen/lua.ts, the scripts built from src/redis/lua/ (it imports nothing).
  redis: { layers: [...CORE, "gen"], packages: ["ioredis"], ioBuiltins: true },
  gen: {
    layers: [],
    packages: ["@bufbuild/protobuf", "@grpc/grpc-js"],
    typePackages: ["ts-proto-descriptors"],
    ioBuiltins: false,
  },
  protocol: { layers: [...CORE, "gen"], packages: ["@bufbuild/protobuf"], ioBuiltins: false },
  grpc: { layers: [...CORE, "protocol"], packages: ["@grpc/grpc-js"], ioBuiltins: false },
  // The nice-grpc middleware is built on the grpc layer's openSession and toStatus, so it
  // loads grpc-js through them (nice-grpc, which a user of it runs, needs it anyway).
  "nice-grpc": {
    layers: [...CORE, "grpc", "protocol"],
    packages: ["nice-grpc-common"],
    ioBuiltins: false,
  },
  client: { layers: [...CORE, "protocol", "gen"], packages: ["@grpc/grpc-js"], ioBuiltins: true },
  service: {
    layers: [...CORE, "grpc", "protocol", "gen"],
    packages: ["@grpc/grpc-js"],
    ioBuiltins: false,
  },
  testing: { layers: CORE, packages: [], ioBuiltins: false },
  // The storage author's kit: the engine and the contract's helpers, and the test runners.
  "storage-kit": { layers: [...CORE, "testing"], packages: [], ioBuiltins: false },
  server: {
    layers: [...CORE, "file", "redis", "gen", "protocol", "grpc", "service"],
    // prom-client only behind `await import` (src/server/metrics/), when metrics are asked for.
    packages: ["@grpc/grpc-js", "@bufbuild/protobuf", "prom-client"],
    ioBuiltins: true,
  },
};

/**
 * What each entry point may load, following every static import (type-only and
 * `await import` ones load nothing at import). This is the promise of the package's
 * subpath exports: `sessiond/client` loads no storage and no ioredis, `sessiond` no gRPC,
 * and the server loads ioredis only when it is configured for Redis.
 */
export const ENTRY_POINT_PACKAGES: Readonly<Record<string, readonly string[]>> = {
  "src/core/index.ts": [],
  "src/file/index.ts": [],
  "src/redis/index.ts": ["ioredis"],
  "src/grpc/index.ts": ["@grpc/grpc-js"],
  "src/nice-grpc/index.ts": ["@grpc/grpc-js", "nice-grpc-common"],
  "src/client/index.ts": ["@grpc/grpc-js", "@bufbuild/protobuf"],
  "src/server/index.ts": ["@grpc/grpc-js", "@bufbuild/protobuf"],
  "src/testing/index.ts": [],
  "src/storage-kit/index.ts": [],
};

/** Builtins that reach the disk, the network or other processes. */
const IO_BUILTINS = new Set([
  "child_process",
  "cluster",
  "dgram",
  "dns",
  "fs",
  "http",
  "http2",
  "https",
  "net",
  "os",
  "tls",
  "worker_threads",
]);

/** Every import that breaks LAYER_RULES, as `path:line: reason`. */
export function layerViolations(
  files: readonly SourceFile[],
  rules: Readonly<Record<string, LayerRule>> = LAYER_RULES,
): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const layer = layerOf(file.path);
    const rule = rules[layer];
    if (rule === undefined) {
      problems.push(`${file.path}: layer "${layer}" has no rule in LAYER_RULES`);
      continue;
    }
    for (const found of file.imports) {
      const reason = breaks(file.path, layer, rule, found);
      if (reason !== undefined) problems.push(`${file.path}:${found.line}: ${reason}`);
    }
  }
  return problems;
}

function breaks(
  path: string,
  layer: string,
  rule: LayerRule,
  found: ResolvedImport,
): string | undefined {
  if (found.kind === "builtin") {
    const name = found.target.slice("node:".length).split("/")[0] as string;
    if (rule.ioBuiltins || !IO_BUILTINS.has(name) || found.typeOnly) return undefined;
    return `${layer} does no I/O, but imports ${found.target}`;
  }
  if (found.kind === "package") {
    if (rule.packages.includes(found.target)) return undefined;
    if (found.typeOnly && rule.typePackages?.includes(found.target)) return undefined;
    return `${layer} may not import the package ${found.target}`;
  }
  const target = layerOf(found.target);
  if (target === layer || rule.layers.includes(target)) return undefined;
  // An entry point (`src/core/index.ts`) gathers its own family's sub-layers.
  if (path === `src/${layer}/index.ts` && target.startsWith(`${layer}/`)) return undefined;
  return `${layer} may not import ${target} (${found.target})`;
}

/** Each import cycle among the files' runtime imports, as the list of files round it. */
export function importCycles(files: readonly SourceFile[]): string[][] {
  const edges = new Map(files.map((file) => [file.path, runtimeSources(file)]));
  const cycles: string[][] = [];
  const done = new Set<string>();
  const onPath: string[] = [];

  const visit = (path: string): void => {
    const at = onPath.indexOf(path);
    if (at >= 0) {
      cycles.push([...onPath.slice(at), path]);
      return;
    }
    if (done.has(path)) return;
    onPath.push(path);
    for (const next of edges.get(path) ?? []) visit(next);
    onPath.pop();
    done.add(path);
  };
  for (const path of edges.keys()) visit(path);
  return cycles;
}

/** The packages an entry point loads by following static, non-type imports. */
export function reachablePackages(files: readonly SourceFile[], entry: string): string[] {
  const byPath = new Map(files.map((file) => [file.path, file]));
  if (!byPath.has(entry)) throw new Error(`${entry} is not a source file`);
  const seen = new Set<string>();
  const packages = new Set<string>();
  const pending = [entry];
  for (let path = pending.pop(); path !== undefined; path = pending.pop()) {
    if (seen.has(path)) continue;
    seen.add(path);
    for (const found of byPath.get(path)?.imports ?? []) {
      if (found.typeOnly || found.dynamic) continue;
      if (found.kind === "package") packages.add(found.target);
      if (found.kind === "source") pending.push(found.target);
    }
  }
  return [...packages].sort();
}

function runtimeSources(file: SourceFile): string[] {
  return file.imports
    .filter((found) => found.kind === "source" && !found.typeOnly && !found.dynamic)
    .map((found) => found.target);
}
