// What importing each entry point really loads, observed in a fresh Node process (module
// hooks and require's cache; see loadEntry.ts), not inferred from the import statements as
// importRules.test.ts does: `sessiond/client` loads no storage and no ioredis, `sessiond`
// no gRPC, and the server leaves ioredis alone until it is configured for Redis.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, describe, it } from "node:test";
import { pathToFileURL } from "node:url";
import { REPO } from "./sourceTree.js";

interface Loaded {
  /** npm packages, by name. */
  packages: Set<string>;
  /** Our sources, relative to the repository. */
  sources: Set<string>;
}

// The test runs the sources through tsx; what tsx itself loads is not the entry point's.
const RUNNER = new Set(["tsx", "esbuild", "get-tsconfig", "resolve-pkg-maps"]);

function load(module: string): Loaded {
  const run = spawnSync(
    process.execPath,
    ["--import", "tsx", join(REPO, "test/architecture/loadEntry.ts"), module],
    { cwd: REPO, encoding: "utf8", timeout: 60_000, env: { ...process.env, NODE_OPTIONS: "" } },
  );
  assert.equal(run.status, 0, `loading ${module} failed:\n${run.stderr}`);
  const loaded: Loaded = { packages: new Set(), sources: new Set() };
  for (const path of JSON.parse(run.stdout) as string[]) {
    const inPackage = path.split("/node_modules/").at(-1) as string;
    if (inPackage !== path) {
      const [scope, name] = inPackage.split("/");
      const pkg = scope?.startsWith("@") ? `${scope}/${name}` : (scope as string);
      if (!RUNNER.has(pkg)) loaded.packages.add(pkg);
    } else if (path.startsWith(join(REPO, "src"))) {
      loaded.sources.add(relative(REPO, path));
    }
  }
  return loaded;
}

interface EntryPromise {
  /** Packages it must not load. */
  packages: string[];
  /** Source folders it must not load from (`src/redis/` …). */
  folders: string[];
  /** Sources it must load: proves the recording saw the import at all. */
  loads: string;
}

const STORAGES = ["src/file/", "src/redis/", "src/core/memory/"];
const REDIS = ["ioredis", "@ioredis/commands"];
const PROTOBUFJS = ["protobufjs", "@grpc/proto-loader", "grpc-health-check"];

const PROMISES: Record<string, EntryPromise> = {
  "src/core/index.ts": {
    packages: ["@grpc/grpc-js", "@bufbuild/protobuf", ...REDIS, ...PROTOBUFJS],
    folders: ["src/file/", "src/redis/", "src/grpc/", "src/protocol/", "src/gen/", "src/server/"],
    loads: "src/core/session/Manager.ts",
  },
  "src/file/index.ts": {
    packages: ["@grpc/grpc-js", ...REDIS, ...PROTOBUFJS],
    folders: ["src/redis/", "src/grpc/", "src/server/"],
    loads: "src/file/FileStorage.ts",
  },
  "src/grpc/index.ts": {
    packages: [...REDIS, ...PROTOBUFJS],
    folders: [...STORAGES, "src/server/", "src/service/"],
    loads: "src/grpc/sessionInterceptor.ts",
  },
  "src/nice-grpc/index.ts": {
    // nice-grpc itself is the user's server; the middleware needs only nice-grpc-common.
    packages: ["nice-grpc", "@bufbuild/protobuf", ...REDIS, ...PROTOBUFJS],
    folders: [...STORAGES, "src/gen/", "src/server/", "src/service/", "src/client/"],
    loads: "src/nice-grpc/sessionMiddleware.ts",
  },
  "src/client/index.ts": {
    packages: [...REDIS, ...PROTOBUFJS],
    folders: [...STORAGES, "src/core/session/Manager.ts", "src/server/", "src/service/"],
    loads: "src/client/SessionClient.ts",
  },
  "src/server/index.ts": {
    // prom-client too: startServer imports the metrics only when SESSIOND_METRICS_PORT is set.
    packages: [...REDIS, ...PROTOBUFJS, "prom-client"],
    folders: [
      "src/redis/client/",
      "src/redis/storage/",
      "src/redis/createRedisStorage.ts",
      "src/server/metrics/",
    ],
    loads: "src/server/startServer.ts",
  },
  "src/testing/index.ts": {
    packages: ["@grpc/grpc-js", ...REDIS, ...PROTOBUFJS],
    folders: ["src/file/", "src/redis/", "src/grpc/", "src/server/"],
    loads: "src/testing/SpecStorage.ts",
  },
  "src/storage-kit/index.ts": {
    packages: ["@grpc/grpc-js", ...REDIS, ...PROTOBUFJS],
    folders: ["src/file/", "src/redis/", "src/grpc/", "src/server/"],
    loads: "src/core/engine/SessionEngine.ts",
  },
};

/** What `loaded` does that `promise` says it must not, one line each. */
function broken(loaded: Loaded, promise: EntryPromise): string[] {
  const problems = promise.packages
    .filter((pkg) => loaded.packages.has(pkg))
    .map((pkg) => `loads the package ${pkg}`);
  for (const source of loaded.sources) {
    const folder = promise.folders.find((f) => source.startsWith(f));
    if (folder !== undefined) problems.push(`loads ${source}`);
  }
  if (!loaded.sources.has(promise.loads)) problems.push(`never loaded ${promise.loads}`);
  return problems;
}

describe("what each entry point loads", () => {
  for (const [entry, promise] of Object.entries(PROMISES)) {
    it(`${entry} keeps to its layer`, () => {
      const problems = broken(load(join(REPO, entry)), promise);
      assert.deepEqual(problems, [], `${entry}:\n${problems.join("\n")}`);
    });
  }

  const dir = mkdtempSync(join(tmpdir(), "sessiond-loads-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("an entry point that pulls in ioredis and a storage is caught", () => {
    // The client entry point plus the mistake this test exists for, by absolute path so the
    // file can live outside the checkout.
    const ioredis = createRequire(join(REPO, "package.json")).resolve("ioredis");
    const bad = join(dir, "badClient.ts");
    writeFileSync(
      bad,
      [
        `export * from ${JSON.stringify(pathToFileURL(join(REPO, "src/client/index.ts")).href)};`,
        `import ${JSON.stringify(pathToFileURL(ioredis).href)};`,
        `import ${JSON.stringify(pathToFileURL(join(REPO, "src/file/FileStorage.ts")).href)};`,
      ].join("\n"),
    );
    const problems = broken(load(bad), PROMISES["src/client/index.ts"] as EntryPromise);
    assert.ok(problems.includes("loads the package ioredis"), problems.join("\n"));
    assert.ok(problems.includes("loads src/file/FileStorage.ts"), problems.join("\n"));
  });
});
