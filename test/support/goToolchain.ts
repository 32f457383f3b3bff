/**
 * Debian's Go toolchain for the Go client tests: go, protoc-gen-go, protoc-gen-go-grpc and
 * the grpc-go and protobuf-go sources under /usr/share/gocode, built in GOPATH mode with
 * no network. Missing pieces fail the test, naming the packages (never a skip). Debian's
 * golang-goprotobuf-dev (protoc-gen-go 1.3) will not do: it cannot generate code for
 * proto3 `optional`, which session.proto uses; protoc-gen-go 1.28 replaces it.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { APT_INSTALL_LINE, requireProtoc, requireTool } from "./systemTools.js";

/** Where Debian's golang-*-dev packages put their sources (a GOPATH entry). */
export const DEBIAN_GOPATH = "/usr/share/gocode";

const SOURCES: ReadonlyArray<[string, string]> = [
  ["google.golang.org/grpc", "golang-google-grpc-dev"],
  ["google.golang.org/protobuf/types/known/structpb", "golang-google-protobuf-dev"],
  // grpc-go 1.33 marshals through github.com/golang/protobuf; 1.3 cannot take protobuf-go messages.
  ["github.com/golang/protobuf/proto/registry.go", "golang-github-golang-protobuf-1-5-dev"],
];

let checked = false;

/** go, the two protoc plugins, protoc and the Go sources; throws naming what to install. */
export function requireGo(): void {
  if (checked) return;
  requireProtoc();
  requireTool("go", "golang-go");
  requireTool("protoc-gen-go", "protoc-gen-go");
  requireTool("protoc-gen-go-grpc", "protoc-gen-go-grpc");
  for (const [path, pkg] of SOURCES) {
    if (!existsSync(join(DEBIAN_GOPATH, "src", path))) {
      throw new Error(
        `${join(DEBIAN_GOPATH, "src", path)} not found: install it with \`apt-get install -y ${pkg}\`` +
          ` (everything the tests need: \`${APT_INSTALL_LINE}\`)`,
      );
    }
  }
  const version = spawnSync("protoc-gen-go", ["--version"], { encoding: "utf8" }).stdout ?? "";
  const [major = 0, minor = 0] = (/v?(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  if (major < 1 || (major === 1 && minor < 20)) {
    throw new Error(
      `protoc-gen-go is ${version.trim() || "of unknown version"}; session.proto's proto3 optional needs 1.20 or newer: \`apt-get install -y protoc-gen-go\` (it replaces golang-goprotobuf-dev)`,
    );
  }
  checked = true;
}

/** The environment `go build` runs in: GOPATH mode, Debian's sources, no module proxy. */
export function goEnv(gopath: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    GO111MODULE: "off",
    GOPATH: `${gopath}:${DEBIAN_GOPATH}`,
    GOFLAGS: "",
    GOPROXY: "off",
  };
}
