/**
 * The system programs some tests run, and the one place that says how to get them. A test
 * that needs one calls requireTool (or requirePython/requireProtoc) first: on a fresh
 * machine it fails, never skips, with the exact Debian line that installs the lot, so a
 * green `npm test` always means every test ran.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Debian packages behind the programs the tests and `npm run bench` use. */
export const APT_PACKAGES = [
  "redis-server",
  "redis-tools", // redis-cli (redis-server depends on it anyway)
  "python3-grpcio",
  "python3-protobuf",
  "protobuf-compiler", // protoc
  "libprotobuf-dev", // google/protobuf/*.proto for protoc (only recommended by protobuf-compiler)
  "openssl",
  "nghttp2-client", // h2load, for npm run bench
  // The Go client (test/service/goClient.test.ts, test/service/depthLimit.test.ts):
  "golang-go",
  "golang-google-grpc-dev", // grpc-go 1.33 sources, for GOPATH mode
  "golang-github-golang-protobuf-1-5-dev", // and golang-google-protobuf-dev (not the 1.3 one)
  "protoc-gen-go", // 1.28: proto3 optional (golang-goprotobuf-dev's 1.3 has not)
  "protoc-gen-go-grpc",
  "python3-yaml", // reads deploy/kubernetes/*.yaml in test/deploy
  "systemd", // systemd-analyze verify of deploy/sessiond.service
] as const;

/** The line the README's set-up and every failure message give. */
export const APT_INSTALL_LINE = `apt-get install -y ${APT_PACKAGES.join(" ")}`;

/** The interpreter the Python tests use: Debian's, where python3-grpcio installs. */
export const SYSTEM_PYTHON = "/usr/bin/python3";

const found = new Map<string, string>();

function missing(what: string, aptPackage: string, detail = ""): Error {
  return new Error(
    `${what}: install it with \`apt-get install -y ${aptPackage}\`` +
      ` (everything the tests need: \`${APT_INSTALL_LINE}\`)${detail ? `\n${detail}` : ""}`,
  );
}

/** The absolute path of `command` on PATH; throws saying which Debian package has it. */
export function requireTool(command: string, aptPackage: string): string {
  const known = found.get(command);
  if (known !== undefined) return known;
  const probe = spawnSync("sh", ["-c", 'command -v "$1"', "sh", command], { encoding: "utf8" });
  const path = probe.stdout.trim();
  if (probe.status !== 0 || path === "") throw missing(`${command} not found on PATH`, aptPackage);
  found.set(command, path);
  return path;
}

/** Debian's python3 with grpc and google.protobuf importable. */
export function requirePython(): string {
  if (found.has("python3+grpc")) return SYSTEM_PYTHON;
  const packages = "python3-grpcio python3-protobuf";
  if (!existsSync(SYSTEM_PYTHON)) throw missing(`${SYSTEM_PYTHON} not found`, packages);
  const probe = spawnSync(SYSTEM_PYTHON, ["-c", "import grpc, google.protobuf"], {
    encoding: "utf8",
  });
  if (probe.status !== 0) {
    throw missing(
      `${SYSTEM_PYTHON} cannot import grpc and google.protobuf`,
      packages,
      probe.stderr ?? String(probe.error),
    );
  }
  found.set("python3+grpc", SYSTEM_PYTHON);
  return SYSTEM_PYTHON;
}

/**
 * protoc >= 3.15 (proto3 `optional`, which session.proto uses) with the well-known types
 * next to it. Debian 12's protobuf-compiler is 3.21; python3-grpc-tools (1.14, protoc 3.6)
 * is too old, which is why the tests never use `python3 -m grpc_tools.protoc`.
 */
export function requireProtoc(): string {
  const protoc = requireTool("protoc", "protobuf-compiler");
  if (found.has("protoc>=3.15")) return protoc;
  const version = spawnSync(protoc, ["--version"], { encoding: "utf8" }).stdout.trim();
  const [major = 0, minor = 0] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  // protoc 3.x prints "libprotoc 3.21.12"; from 4.22 on it prints "libprotoc 22.x".
  if (major === 3 ? minor < 15 : major < 3) {
    throw missing(`${protoc} is ${version}; session.proto needs >= 3.15`, "protobuf-compiler");
  }
  // Run from an empty directory, so only protoc's own include path can supply the file.
  const wkt = spawnSync(protoc, ["-o/dev/null", "google/protobuf/struct.proto"], {
    cwd: mkdtempSync(join(tmpdir(), "sessiond-protoc-")),
    encoding: "utf8",
  });
  if (wkt.status !== 0) {
    throw missing(
      `${protoc} cannot find google/protobuf/struct.proto`,
      "libprotobuf-dev",
      wkt.stderr,
    );
  }
  found.set("protoc>=3.15", protoc);
  return protoc;
}

/** Debian's python3 with yaml importable (to read the Kubernetes manifests). */
export function requirePythonYaml(): string {
  if (found.has("python3+yaml")) return SYSTEM_PYTHON;
  if (!existsSync(SYSTEM_PYTHON)) throw missing(`${SYSTEM_PYTHON} not found`, "python3-yaml");
  const probe = spawnSync(SYSTEM_PYTHON, ["-c", "import yaml"], { encoding: "utf8" });
  if (probe.status !== 0) {
    throw missing(`${SYSTEM_PYTHON} cannot import yaml`, "python3-yaml", probe.stderr);
  }
  found.set("python3+yaml", SYSTEM_PYTHON);
  return SYSTEM_PYTHON;
}
