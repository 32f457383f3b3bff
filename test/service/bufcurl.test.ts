// `buf curl` (a strict reflection client, like grpcurl) against the real server process:
// the commands of the README's five-minute tour.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { isValidSessionId } from "../../src/core/session/ids.js";
import { SessionServiceService } from "../../src/gen/sessiond/v1/session.js";
import { REPO_ROOT, ServerProcess } from "../support/serverProcess.js";

const BUF = join(REPO_ROOT, "node_modules/.bin/buf");

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function bufCurl(args: string[]): Promise<Run> {
  if (!existsSync(BUF)) {
    throw new Error(`${BUF} is missing: run npm ci (the @bufbuild/buf dev dependency)`);
  }
  const child = spawn(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", ...args], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => {
    stdout += d;
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

async function ok(args: string[]): Promise<string> {
  const run = await bufCurl(args);
  assert.equal(run.code, 0, `buf curl ${args.join(" ")}\n${run.stderr}`);
  return run.stdout;
}

let dir: string;
let server: ServerProcess;
let base: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "sessiond-bufcurl-"));
  server = await ServerProcess.start(["--file-dir", dir]);
  base = `http://${server.address}`;
});
after(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("buf curl through server reflection", () => {
  test("--list-services lists every service", async () => {
    const out = await ok(["--list-services", base]);
    assert.deepEqual(out.trim().split("\n"), [
      "grpc.health.v1.Health",
      "grpc.reflection.v1.ServerReflection",
      "grpc.reflection.v1alpha.ServerReflection",
      "sessiond.v1.SessionService",
    ]);
  });

  test("the v1alpha reflection protocol serves the same (older clients)", async () => {
    const list = await ok(["--reflect-protocol", "grpc-v1alpha", "--list-services", base]);
    assert.ok(list.split("\n").includes("sessiond.v1.SessionService"), list);
    const get = await ok([
      "--reflect-protocol",
      "grpc-v1alpha",
      "-d",
      '{"key":"nothing-here"}',
      `${base}/sessiond.v1.SessionService/Get`,
    ]);
    assert.deepEqual(JSON.parse(get), {});
  });

  test("--list-methods describes every SessionService method", async () => {
    const out = await ok(["--list-methods", base]);
    const methods = out
      .trim()
      .split("\n")
      .filter((m) => m.startsWith("sessiond.v1.SessionService/"));
    assert.deepEqual(
      methods.map((m) => `/${m}`).sort(),
      Object.values(SessionServiceService)
        .map((m) => m.path)
        .sort(),
    );
  });

  test("describing a service and a message with well-known-type fields (via reflection itself)", async () => {
    // buf curl has no `describe`; the reflection service is callable like any other, and
    // its answer must carry the file with all its imports.
    for (const [symbol, check] of [
      ["sessiond.v1.SessionService", "sessiond.v1.SessionService"],
      ["sessiond.v1.DescribeResponse", "sessiond.v1.DescribeResponse"],
    ] as const) {
      const out = await ok([
        "-d",
        JSON.stringify({ fileContainingSymbol: symbol }),
        `${base}/grpc.reflection.v1.ServerReflection/ServerReflectionInfo`,
      ]);
      const answer = JSON.parse(out) as {
        fileDescriptorResponse: { fileDescriptorProto: string[] };
      };
      const files = answer.fileDescriptorResponse.fileDescriptorProto.map((b64) =>
        fromBinary(FileDescriptorProtoSchema, Buffer.from(b64, "base64")),
      );
      const names = files.map((f) => f.name);
      assert.ok(names.includes("google/protobuf/timestamp.proto"), names.join());
      assert.ok(names.includes("google/protobuf/struct.proto"), names.join());
      // Dependencies first, then the file: a strict registry must resolve everything.
      const registry = createFileRegistry(
        create(FileDescriptorSetSchema, { file: [...files].reverse() }),
      );
      if (check === "sessiond.v1.SessionService") {
        assert.equal(registry.getService(check)?.methods.length, 12);
      } else {
        const message = registry.getMessage(check);
        assert.equal(message?.field.createTime?.message?.typeName, "google.protobuf.Timestamp");
      }
    }
  });

  test("Set with a JSON body and no id returns a new id; Get with -H x-session-id reads it back", async () => {
    const value = { cart: [1, 2, 3], user: { name: "ada", admin: false }, note: null };
    const set = await bufCurl([
      "-v",
      "-d",
      JSON.stringify({ key: "profile", value }),
      `${base}/sessiond.v1.SessionService/Set`,
    ]);
    assert.equal(set.code, 0, set.stderr);
    const { sessionId, version } = JSON.parse(set.stdout) as { sessionId: string; version: string };
    assert.ok(isValidSessionId(sessionId), set.stdout);
    assert.equal(version, "1");
    // The id also came back in response metadata (buf curl -v prints response headers).
    assert.match(set.stderr, new RegExp(`< \\(#\\d+\\) X-Session-Id: ${sessionId}`, "i"));

    const get = await ok([
      "-H",
      `x-session-id: ${sessionId}`,
      "-d",
      '{"key":"profile"}',
      `${base}/sessiond.v1.SessionService/Get`,
    ]);
    assert.deepEqual(JSON.parse(get), { value, found: true });

    const describe = JSON.parse(
      await ok(["-H", `x-session-id:${sessionId}`, `${base}/sessiond.v1.SessionService/Describe`]),
    ) as { sessionId: string; size: number; createTime: string; expireTime: string };
    assert.equal(describe.sessionId, sessionId);
    assert.equal(describe.size, 1);
    assert.ok(Date.parse(describe.expireTime) > Date.parse(describe.createTime));
  });

  test("errors come back as gRPC status codes (buf curl exits with code << 3)", async () => {
    const bad = await bufCurl([
      "-H",
      "x-session-id: ../x",
      "-d",
      '{"key":"a"}',
      `${base}/sessiond.v1.SessionService/Get`,
    ]);
    assert.equal(bad.code, 3 << 3, bad.stderr);
    assert.match(bad.stderr, /invalid_argument/);
    const missing = await bufCurl([`${base}/sessiond.v1.SessionService/Describe`]);
    assert.equal(missing.code, 5 << 3, missing.stderr);
  });

  test("the health service is callable too", async () => {
    const out = await ok([
      "-d",
      '{"service":"sessiond.v1.SessionService"}',
      `${base}/grpc.health.v1.Health/Check`,
    ]);
    assert.deepEqual(JSON.parse(out), { status: "SERVING" });
  });
});
