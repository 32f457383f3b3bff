// The `npm pack` tarball, installed into fresh projects as a new user would: a TypeScript
// NodeNext project, a CommonJS TypeScript project (TypeScript 5, moduleResolution node, as
// older NestJS set-ups have), and an esbuild bundle run where no node_modules exists. Each
// runs a small program against a real server.
//
// "Installed" without the registry: the tarball is unpacked into node_modules/sessiond and
// only the packages its package.json declares (dependencies and peers) are linked next to
// it, so an undeclared import fails here as it would for a user.
import assert from "node:assert/strict";
import { execFile, type SpawnSyncReturns, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { type RunningServer, startServer } from "../../src/server/startServer.js";

const execFileAsync = promisify(execFile);
const root = fileURLToPath(new URL("../..", import.meta.url));
const bin = (name: string) => join(root, "node_modules", ".bin", name);

function run(command: string, args: string[], cwd: string): SpawnSyncReturns<string> {
  return spawnSync(command, args, {
    cwd,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NODE_OPTIONS: "" },
  });
}

function ok(result: SpawnSyncReturns<string>, what: string): string {
  assert.equal(result.status, 0, `${what} failed:\n${result.stdout}\n${result.stderr}`);
  return result.stdout;
}

/** The last line a program printed, as JSON. */
function lastJson(stdout: string): Record<string, unknown> {
  return JSON.parse(stdout.trim().split("\n").at(-1) as string);
}

// The program every project runs, in TypeScript that NodeNext and CommonJS both accept.
const PROGRAM = `
import { Manager, MemoryStorage, SessionError, ConfigError } from "sessiond";
import { SessionClient } from "sessiond/client";
import { FileStorage } from "sessiond/file";
import { sessionInterceptor, getSession, openSession } from "sessiond/grpc";
import { sessionMiddleware } from "sessiond/nice-grpc";
import { startServer } from "sessiond/server";
import { describeStorageConformance } from "sessiond/testing";
import { SessionEngine, MapDocumentStore, applyDelta, accepted, refusalError, replay, recordOf } from "sessiond/storage-kit";

async function main(): Promise<void> {
  const manager = new Manager({ storage: new MemoryStorage() });
  const local = manager.session();
  local.set("a", 1);
  await local.commit();
  // A storage built from the kit alone: the engine over its smallest backend.
  const kit = new Manager({ storage: new SessionEngine(new MapDocumentStore()) });
  const built = kit.session();
  built.set("n", 2);
  await built.commit();
  const kitValue = await kit.session(built.id).get("n");
  await kit.close();
  let invalid: string | undefined;
  try {
    manager.session("../x");
  } catch (err) {
    if (err instanceof SessionError) invalid = err.code;
  }
  let config: string | undefined;
  try {
    new FileStorage({ dir: "" });
  } catch (err) {
    if (err instanceof ConfigError) config = err.name;
  }
  const server = await startServer({ port: 0, storage: "memory", logLevel: "error" });
  const client = new SessionClient("127.0.0.1:" + server.port);
  const remote = client.session();
  await remote.set("cart", { items: ["book"] });
  const cart = await remote.get("cart");
  client.close();
  await server.shutdown();
  await manager.close();
  console.log(JSON.stringify({
    localId: local.id, invalid, config, remoteId: remote.id, cart, kitValue,
    functions: [describeStorageConformance, sessionInterceptor, getSession, openSession, sessionMiddleware,
      applyDelta, accepted, refusalError, replay, recordOf].map((f) => typeof f),
  }));
}
main().catch((err) => { console.error(err); process.exit(1); });
`;

function checkProgramOutput(stdout: string): void {
  const out = lastJson(stdout);
  assert.match(String(out.localId), /^[0-9a-z]{32}$/);
  assert.equal(out.invalid, "invalid_argument");
  assert.equal(out.config, "ConfigError");
  assert.match(String(out.remoteId), /^[0-9a-z]{32}$/);
  assert.deepEqual(out.cart, { items: ["book"] });
  assert.equal(out.kitValue, 2);
  assert.deepEqual(out.functions, Array(10).fill("function"));
}

describe("the npm pack tarball in fresh projects", () => {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-package-"));
  let tarball: string;
  let manifest: {
    dependencies?: Record<string, string>;
    peerDependencies?: Record<string, string>;
  };
  after(() => rmSync(dir, { recursive: true, force: true }));

  before(() => {
    // The build runs `rm -rf dist`: it runs in a copy, so the checkout under test is left alone.
    const copy = join(dir, "checkout");
    const skipped = new Set([".git", "node_modules", "dist"]);
    cpSync(root, copy, {
      recursive: true,
      filter: (from) => from === root || !skipped.has(basename(from)),
    });
    symlinkSync(join(root, "node_modules"), join(copy, "node_modules"), "dir");
    const packed = ok(
      run("npm", ["pack", "--silent", "--pack-destination", dir], copy),
      "npm pack (with its prepare build)",
    );
    tarball = join(dir, packed.trim().split("\n").at(-1) as string);
    assert.ok(existsSync(tarball), `npm pack made no ${tarball}`);
    const unpacked = join(dir, "unpacked");
    mkdirSync(unpacked);
    ok(run("tar", ["-xzf", tarball, "-C", unpacked], dir), "tar");
    manifest = JSON.parse(readFileSync(join(unpacked, "package", "package.json"), "utf8"));
  });

  /** A fresh project with the tarball installed, plus `extra` packages from our own tree. */
  function project(name: string, files: Record<string, string>, extra: string[] = []): string {
    const at = join(dir, name);
    mkdirSync(join(at, "node_modules", "@grpc"), { recursive: true });
    ok(run("tar", ["-xzf", tarball, "-C", join(at, "node_modules")], at), "tar");
    cpSync(join(at, "node_modules", "package"), join(at, "node_modules", "sessiond"), {
      recursive: true,
    });
    rmSync(join(at, "node_modules", "package"), { recursive: true });
    const declared = [
      ...Object.keys(manifest.dependencies ?? {}),
      ...Object.keys(manifest.peerDependencies ?? {}),
      ...extra,
    ];
    for (const pkg of declared) {
      mkdirSync(dirname(join(at, "node_modules", pkg)), { recursive: true });
      symlinkSync(join(root, "node_modules", pkg), join(at, "node_modules", pkg), "dir");
    }
    for (const [file, text] of Object.entries(files)) writeFileSync(join(at, file), text);
    return at;
  }

  it("ships dist/ (with sources in its maps), the protos and the README, and no tests", () => {
    const files = readdirSync(join(dir, "unpacked", "package"), { recursive: true }).map(String);
    for (const wanted of [
      ...[
        "core",
        "file",
        "redis",
        "grpc",
        "nice-grpc",
        "client",
        "server",
        "testing",
        "storage-kit",
      ].flatMap((entry) => [`dist/${entry}/index.js`, `dist/${entry}/index.d.ts`]),
      "dist/server/main.js",
      "proto/sessiond/v1/session.proto",
      "README.md",
    ]) {
      assert.ok(files.includes(wanted), `${wanted} missing from the package`);
    }
    assert.ok(!files.some((f) => f.startsWith("test/") || f.startsWith("src/")), "sources leaked");
    const map = JSON.parse(
      readFileSync(join(dir, "unpacked", "package", "dist/core/index.js.map"), "utf8"),
    );
    assert.ok(
      Array.isArray(map.sourcesContent) && map.sourcesContent[0].length > 0,
      "source maps point at src/*.ts, which is not shipped: they must carry sourcesContent",
    );
    const deps = Object.keys(manifest.dependencies ?? {});
    for (const devOnly of ["tsx", "esbuild", "@grpc/grpc-js"]) {
      assert.ok(!deps.includes(devOnly), `${devOnly} is a runtime dependency`);
    }
  });

  it("works in a TypeScript NodeNext project (and exports its protos and package.json)", () => {
    const at = project(
      "nodenext",
      {
        "package.json": '{ "type": "module" }\n',
        "tsconfig.json": JSON.stringify({
          compilerOptions: {
            module: "nodenext",
            target: "es2022",
            strict: true,
            outDir: "out",
            types: ["node"],
            skipLibCheck: false,
          },
          include: ["program.ts"],
        }),
        "program.ts": PROGRAM,
        "resolve.mjs": [
          'import { readFileSync } from "node:fs";',
          'const proto = new URL(import.meta.resolve("sessiond/proto/sessiond/v1/session.proto"));',
          'const pkg = new URL(import.meta.resolve("sessiond/package.json"));',
          "console.log(JSON.stringify({",
          '  proto: readFileSync(proto, "utf8").includes("service SessionService"),',
          '  name: JSON.parse(readFileSync(pkg, "utf8")).name,',
          "}));",
        ].join("\n"),
      },
      ["@types/node"],
    );
    ok(run(bin("tsc"), ["-p", "."], at), "tsc (NodeNext, skipLibCheck false)");
    checkProgramOutput(ok(run(process.execPath, ["out/program.js"], at), "the program"));
    assert.deepEqual(lastJson(ok(run(process.execPath, ["resolve.mjs"], at), "resolve")), {
      proto: true,
      name: "sessiond",
    });
  });

  it("works in a CommonJS TypeScript project (TypeScript 5, moduleResolution node)", () => {
    const at = project(
      "commonjs",
      {
        "package.json": '{ "type": "commonjs" }\n',
        "tsconfig.json": JSON.stringify({
          compilerOptions: {
            module: "commonjs",
            moduleResolution: "node",
            target: "es2022",
            strict: true,
            esModuleInterop: true,
            outDir: "out",
            types: ["node"],
            skipLibCheck: true,
          },
          include: ["program.ts"],
        }),
        "program.ts": PROGRAM,
      },
      ["@types/node"],
    );
    ok(
      run(process.execPath, [join(root, "node_modules/typescript-5/bin/tsc"), "-p", "."], at),
      "tsc 5 (commonjs, moduleResolution node)",
    );
    // Node 20.19+ loads an ES module from require() (sessiond has no top-level await).
    checkProgramOutput(ok(run(process.execPath, ["out/program.js"], at), "the program"));
  });

  describe("bundled with esbuild", () => {
    let server: RunningServer;
    before(async () => {
      server = await startServer({ port: 0, storage: "memory", logLevel: "error" });
    });
    after(() => server.shutdown());

    /** Bundles `app` in a project with the tarball, and runs the bundle where nothing else is. */
    async function bundleAndRun(name: string, app: string, args: string[]): Promise<string> {
      const at = project(name, { "package.json": '{ "type": "module" }\n', "app.js": app });
      // grpc-js is CommonJS and require()s node builtins: an ESM bundle needs a require.
      ok(
        run(
          bin("esbuild"),
          [
            "app.js",
            "--bundle",
            "--platform=node",
            "--format=esm",
            "--outfile=dist/app.mjs",
            "--banner:js=import { createRequire } from 'node:module'; const require = createRequire(import.meta.url);",
            "--log-level=warning",
          ],
          at,
        ),
        "esbuild",
      );
      const alone = join(dir, `${name}-alone`);
      mkdirSync(alone);
      cpSync(join(at, "dist", "app.mjs"), join(alone, "app.mjs"));
      // Not spawnSync: the server answering it runs in this process.
      const { stdout } = await execFileAsync(process.execPath, ["app.mjs", ...args], {
        cwd: alone,
        timeout: 60_000,
        env: { ...process.env, NODE_OPTIONS: "" },
      });
      return stdout;
    }

    it("an app importing sessiond and sessiond/client bundles and runs with no node_modules", async () => {
      const stdout = await bundleAndRun(
        "bundled-client",
        [
          'import { Manager, MemoryStorage } from "sessiond";',
          'import { SessionClient } from "sessiond/client";',
          "const manager = new Manager({ storage: new MemoryStorage() });",
          "const local = manager.session();",
          'local.set("n", 1);',
          "await local.commit();",
          "const client = new SessionClient(process.argv[2]);",
          "const remote = client.session();",
          'await remote.set("n", 2);',
          'const n = await remote.get("n");',
          "client.close();",
          "await manager.close();",
          "console.log(JSON.stringify({ local: local.id, n }));",
        ].join("\n"),
        [`127.0.0.1:${server.port}`],
      );
      const out = lastJson(stdout);
      assert.match(String(out.local), /^[0-9a-z]{32}$/);
      assert.equal(out.n, 2);
    });

    it("a whole server (sessiond/server) bundles and serves, health and reflection included", async () => {
      const stdout = await bundleAndRun(
        "bundled-server",
        [
          'import { startServer } from "sessiond/server";',
          'import { SessionClient } from "sessiond/client";',
          'const server = await startServer({ port: 0, storage: "memory", logLevel: "error" });',
          "const client = new SessionClient(server.address);",
          "const remote = client.session();",
          'await remote.set("n", 3);',
          'const n = await remote.get("n");',
          "client.close();",
          "await server.shutdown();",
          "console.log(JSON.stringify({ n, reflection: server.reflection }));",
        ].join("\n"),
        [],
      );
      assert.deepEqual(lastJson(stdout), { n: 3, reflection: true });
    });
  });

  it("the installed sessiond command prints its own name in --help", () => {
    const at = project("bin", { "package.json": "{}\n" });
    const help = ok(
      run(process.execPath, [join(at, "node_modules/sessiond/dist/server/main.js"), "--help"], at),
      "sessiond --help",
    );
    assert.match(help, /^Usage: sessiond /m);
    assert.doesNotMatch(help, /tsx|src\/server/);
  });
});
