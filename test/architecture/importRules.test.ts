// The layers of docs/ARCHITECTURE.md, held to the code: which folder may import which, which
// npm packages each may use, no import cycles, and what each entry point loads. Each check
// is also run on a small made-up tree with the mistake in it, so a checker that cannot fail
// would fail here.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  ENTRY_POINT_PACKAGES,
  importCycles,
  LAYER_RULES,
  layerViolations,
  reachablePackages,
} from "./importRules.js";
import { scanImports } from "./sourceImports.js";
import {
  layerOf,
  packageName,
  REPO,
  type ResolvedImport,
  readSourceTree,
  type SourceFile,
} from "./sourceTree.js";

const tree = readSourceTree();

/** A made-up source file importing `targets` (a path under src/, a package, or node:x). */
function fake(path: string, ...targets: (string | Partial<ResolvedImport>)[]): SourceFile {
  return {
    path,
    imports: targets.map((target) => {
      const found: ResolvedImport = {
        specifier: "",
        target: "",
        kind: "package",
        typeOnly: false,
        dynamic: false,
        line: 1,
      };
      if (typeof target !== "string") return { ...found, ...target };
      const kind = target.startsWith("src/")
        ? "source"
        : target.startsWith("node:")
          ? "builtin"
          : "package";
      return { ...found, specifier: target, target, kind };
    }),
  };
}

describe("the import scanner", () => {
  it("reads every form of import the sources use", () => {
    const text = [
      'import assert from "node:assert/strict";',
      'import { a, b } from "./a.js";',
      "import {",
      "  type C,",
      "  d,",
      '} from "../b.js";',
      'import type { E } from "@grpc/grpc-js";',
      'import { type F, type G } from "ioredis";',
      'export { H } from "./c.js";',
      'export type * from "./d.js";',
      'import "./side-effect.js";',
      '// import { nope } from "commented-out";',
      ' * import { nope } from "doc-comment";',
      'const lazy = await import("./e.js");',
      'type T = typeof import("./f.js");',
      '// await import("./commented.js")',
    ].join("\n");
    const found = scanImports(text).map(
      ({ specifier, typeOnly, dynamic, line }) =>
        `${line} ${specifier}${typeOnly ? " type" : ""}${dynamic ? " dynamic" : ""}`,
    );
    assert.deepEqual(found, [
      "1 node:assert/strict",
      "2 ./a.js",
      "3 ../b.js",
      "7 @grpc/grpc-js type",
      "8 ioredis type",
      "9 ./c.js",
      "10 ./d.js type",
      "11 ./side-effect.js",
      "14 ./e.js dynamic",
      "15 ./f.js type",
    ]);
  });

  it("names packages and layers from specifiers and paths", () => {
    assert.equal(packageName("@grpc/grpc-js/build/src/x"), "@grpc/grpc-js");
    assert.equal(packageName("ioredis"), "ioredis");
    assert.equal(layerOf("src/core/Limits.ts"), "core");
    assert.equal(layerOf("src/core/session/Session.ts"), "core/session");
    assert.equal(layerOf("src/server/security/TokenSet.ts"), "server");
  });

  it("finds the sources it checks", () => {
    const layers = new Set(tree.map((file) => layerOf(file.path)));
    assert.deepEqual([...layers].sort(), Object.keys(LAYER_RULES).sort());
    assert.ok(tree.length > 100, `only ${tree.length} files under src/: is the scanner lost?`);
  });
});

describe("the layers", () => {
  it("src/ imports only what each layer's rule allows", () => {
    const problems = layerViolations(tree);
    assert.deepEqual(problems, [], `imports that break the layers:\n${problems.join("\n")}`);
  });

  it("refuses a layer importing above itself, a stray package and I/O in the core", () => {
    const problems = layerViolations([
      fake("src/core/Limits.ts", "src/core/session/Session.ts"),
      fake("src/core/storage/applyOps.ts", "@grpc/grpc-js"),
      fake("src/core/session/Manager.ts", "node:fs"),
      fake("src/client/SessionClient.ts", "src/redis/RedisStorage.ts"),
      fake("src/gen/x.ts", "ts-proto-descriptors"),
      fake("src/nowhere/x.ts"),
    ]);
    assert.deepEqual(problems, [
      "src/core/Limits.ts:1: core may not import core/session (src/core/session/Session.ts)",
      "src/core/storage/applyOps.ts:1: core/storage may not import the package @grpc/grpc-js",
      "src/core/session/Manager.ts:1: core/session does no I/O, but imports node:fs",
      "src/client/SessionClient.ts:1: client may not import redis (src/redis/RedisStorage.ts)",
      "src/gen/x.ts:1: gen may not import the package ts-proto-descriptors",
      'src/nowhere/x.ts: layer "nowhere" has no rule in LAYER_RULES',
    ]);
  });

  it("lets an entry point gather its own sub-layers, and type-only imports of type packages", () => {
    const problems = layerViolations([
      fake("src/core/index.ts", "src/core/session/Manager.ts"),
      fake("src/gen/x.ts", { target: "ts-proto-descriptors", kind: "package", typeOnly: true }),
    ]);
    assert.deepEqual(problems, []);
  });
});

describe("import cycles", () => {
  it("src/ has none", () => {
    const cycles = importCycles(tree).map((cycle) => cycle.join(" -> "));
    assert.deepEqual(cycles, [], `import cycles:\n${cycles.join("\n")}`);
  });

  it("are found, and type-only or lazy imports do not make one", () => {
    const cycles = importCycles([
      fake("src/core/a.ts", "src/core/b.ts"),
      fake("src/core/b.ts", "src/core/c.ts"),
      fake("src/core/c.ts", "src/core/a.ts"),
      fake("src/file/x.ts", { target: "src/file/y.ts", kind: "source", typeOnly: true }),
      fake("src/file/y.ts", "src/file/x.ts"),
      fake("src/server/x.ts", { target: "src/server/y.ts", kind: "source", dynamic: true }),
      fake("src/server/y.ts", "src/server/x.ts"),
    ]);
    assert.deepEqual(cycles, [
      ["src/core/a.ts", "src/core/b.ts", "src/core/c.ts", "src/core/a.ts"],
    ]);
  });
});

describe("the entry points", () => {
  for (const [entry, allowed] of Object.entries(ENTRY_POINT_PACKAGES)) {
    it(`${entry} loads only ${allowed.join(", ") || "no package"}`, () => {
      assert.deepEqual(reachablePackages(tree, entry), [...allowed].sort());
    });
  }

  it("each subpath export is an entry point with a rule", () => {
    const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    // Code entry points; "./proto/*" and "./package.json" export files as they are.
    const sources = Object.values(manifest.exports as Record<string, string | { default: string }>)
      .filter((target) => typeof target !== "string")
      .map((target) => target.default.replace(/^\.\/dist\//, "src/").replace(/\.js$/, ".ts"));
    assert.deepEqual(sources.sort(), Object.keys(ENTRY_POINT_PACKAGES).sort());
  });

  it("a package reached through a chain of imports counts, a lazy or type-only one does not", () => {
    const files = [
      fake("src/client/index.ts", "src/client/a.ts", {
        target: "src/client/lazy.ts",
        kind: "source",
        dynamic: true,
      }),
      fake("src/client/a.ts", "src/core/b.ts", {
        target: "typed-only",
        kind: "package",
        typeOnly: true,
      }),
      fake("src/core/b.ts", "ioredis"),
      fake("src/client/lazy.ts", "grpc-health-check"),
    ];
    assert.deepEqual(reachablePackages(files, "src/client/index.ts"), ["ioredis"]);
  });

  it("every package src/ imports is declared in package.json", () => {
    const manifest = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8"));
    const declared = new Set([
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
    ]);
    const used = new Set(
      tree.flatMap((file) =>
        file.imports.filter((found) => found.kind === "package").map((found) => found.target),
      ),
    );
    const missing = [...used].filter((name) => !declared.has(name)).sort();
    assert.deepEqual(missing, [], `imported by src/ but not a dependency: ${missing.join(", ")}`);
  });
});
