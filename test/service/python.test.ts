// A real non-Node client: Debian's python3-grpcio with message classes that Debian's protoc
// generates from proto/ at test time. Without those packages the tests fail, naming them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { isValidSessionId } from "../../src/core/session/ids.js";
import { REPO_ROOT, ServerProcess } from "../support/serverProcess.js";
import { requireProtoc, requirePython } from "../support/systemTools.js";

let dir: string;
let server: ServerProcess | undefined;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "sessiond-python-"));
});
after(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

function run(cmd: string, args: string[]) {
  return spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: "utf8", timeout: 60_000 });
}

test("a Python grpcio client does Set without an id, learns the id, then Get with it", async () => {
  const python = requirePython();
  const stubs = join(dir, "stubs");
  const protoc = run("sh", [
    "-c",
    `mkdir -p "${stubs}" && "${requireProtoc()}" -I proto --python_out="${stubs}" proto/sessiond/v1/session.proto`,
  ]);
  assert.equal(protoc.status, 0, `protoc failed:\n${protoc.stderr ?? protoc.error}`);

  server = await ServerProcess.start(["--file-dir", join(dir, "sessions")]);
  const client = run(python, [
    join(REPO_ROOT, "test/support/python_client.py"),
    server.address,
    stubs,
  ]);
  assert.equal(client.status, 0, `python client failed:\n${client.stderr}`);
  const seen = JSON.parse(client.stdout) as {
    set_session_id: string;
    set_version: number;
    header_session_id: string | null;
    get_found: boolean;
    get_value: unknown;
    bad_id_code: string;
    proto_data: unknown;
    proto_get: unknown;
  };
  assert.ok(isValidSessionId(seen.set_session_id), client.stdout);
  assert.equal(seen.header_session_id, seen.set_session_id, "id in response metadata");
  assert.equal(seen.set_version, 1);
  assert.equal(seen.get_found, true);
  assert.deepEqual(seen.get_value, { lang: "python", n: 3 });
  assert.equal(seen.bad_id_code, "INVALID_ARGUMENT");
  // "__proto__" is a key like any other, top level and nested, both ways.
  const inner = '{"__proto__": "inner", "list": [{"__proto__": 1}]}';
  assert.deepStrictEqual(
    seen.proto_data,
    JSON.parse(
      `{"from-python": {"lang": "python", "n": 3}, "__proto__": ${inner}, "constructor": 2}`,
    ),
  );
  assert.deepStrictEqual(seen.proto_get, [true, JSON.parse(inner)]);
});

test("a Python client with no sessiond stubs: reflection only, requests built from JSON (as grpcurl does)", async () => {
  const python = requirePython();
  const stubs = join(dir, "reflection-stubs");
  // Only the reflection protocol's messages; everything about sessiond comes from the server.
  const protoc = run("sh", [
    "-c",
    `mkdir -p "${stubs}" && "${requireProtoc()}" -I src/server/proto/grpc/reflection/v1 --python_out="${stubs}" reflection.proto`,
  ]);
  assert.equal(protoc.status, 0, `protoc failed:\n${protoc.stderr ?? protoc.error}`);

  server ??= await ServerProcess.start(["--file-dir", join(dir, "sessions")]);
  const client = run(python, [
    join(REPO_ROOT, "test/support/python_reflection_client.py"),
    server.address,
    stubs,
  ]);
  assert.equal(client.status, 0, `python reflection client failed:\n${client.stderr}`);
  const seen = JSON.parse(client.stdout) as {
    services: string[];
    files: string[];
    fetched_by_name: string[];
    methods: string[];
    set: { sessionId: string; version: string };
    set_header_id: string;
    get: { value: unknown; found: boolean };
  };
  assert.ok(seen.services.includes("sessiond.v1.SessionService"));
  assert.deepEqual(seen.files, [
    "google/protobuf/struct.proto",
    "google/protobuf/timestamp.proto",
    "sessiond/v1/session.proto",
  ]);
  assert.deepEqual(seen.fetched_by_name, [], "the server should send every import at once");
  assert.equal(seen.methods.length, 12);
  assert.ok(isValidSessionId(seen.set.sessionId));
  assert.equal(seen.set_header_id, seen.set.sessionId);
  assert.deepEqual(seen.get, { value: ["py", 3, { ok: true }], found: true });
});
