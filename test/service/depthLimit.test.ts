// Values nested to the write limit (MAX_JSON_DEPTH, 32 levels) stay readable by every
// client whose protobuf decoder stops at 100 nested messages: objects and lists nested 32
// levels (an empty one at the bottom, the deepest a response gets) are set and read back
// with Get and GetData through @grpc/proto-loader (protobufjs), Python grpcio (protobuf's
// C++ decoder) and grpc-go; one level more is INVALID_ARGUMENT. Values an older sessiond
// stored deeper (it accepted 64) are returned as stored: the Node SDK reads them, a
// 100-level decoder cannot, and Remove clears them.
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { SessionClient } from "../../src/client/SessionClient.js";
import type { JsonValue } from "../../src/core/json.js";
import { resolveLimits } from "../../src/core/Limits.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { MAX_JSON_DEPTH, MAX_STORED_JSON_DEPTH } from "../../src/core/session/validate.js";
import { fromValue, toValue } from "../../src/protocol/protoLoaderValue.js";
import { goEnv, requireGo } from "../support/goToolchain.js";
import { runAsync } from "../support/readmeBlocks.js";
import { REPO_ROOT } from "../support/serverProcess.js";
import { type ServiceTestServer, startServiceTestServer } from "../support/serviceTestServer.js";
import { requireProtoc, requirePython, SYSTEM_PYTHON } from "../support/systemTools.js";

type Kind = "struct" | "list";
const KINDS: readonly Kind[] = ["struct", "list"];

/** `levels` objects ({"k": …}) or lists around an empty one: the value is `levels` deep. */
function nested(kind: Kind, levels: number): JsonValue {
  let value: JsonValue = kind === "struct" ? {} : [];
  for (let i = 0; i < levels; i++) value = kind === "struct" ? { k: value } : [value];
  return value;
}

interface Seen {
  kind: Kind;
  get: unknown;
  data: unknown;
  /** The status of setting one level more: code name and message. */
  deeper: [string, string];
}

/** What every client must report: the values as set, and the deeper one refused. */
function assertAtTheLimit(seen: Seen[], client: string, refusedAs: string): void {
  assert.deepEqual(
    seen.map((s) => s.kind),
    KINDS,
    `${client}: one line per kind`,
  );
  for (const { kind, get, data, deeper } of seen) {
    const value = nested(kind, MAX_JSON_DEPTH);
    assert.deepStrictEqual(get, value, `${client}: Get of ${kind} ${MAX_JSON_DEPTH} deep`);
    assert.deepStrictEqual(data, { v: value }, `${client}: GetData of ${kind}`);
    assert.equal(deeper[0], refusedAs, `${client}: ${kind} ${MAX_JSON_DEPTH + 1} deep is refused`);
    assert.match(deeper[1], new RegExp(`^value.* is nested deeper than ${MAX_JSON_DEPTH} levels`));
  }
}

const protoPath = join(REPO_ROOT, "proto/sessiond/v1/session.proto");
let server: ServiceTestServer;
let work: string;
before(async () => {
  server = await startServiceTestServer({ storage: new MemoryStorage() });
  work = mkdtempSync(join(tmpdir(), "sessiond-depth-"));
});
after(async () => {
  await server.close();
  rmSync(work, { recursive: true, force: true });
});

/** A proto-loader client, as the README's recipe builds it. */
function protoLoaderClient() {
  const definition = loadSync(protoPath, { longs: String, oneofs: true });
  const { sessiond } = loadPackageDefinition(definition) as unknown as {
    sessiond: { v1: { SessionService: ServiceClientConstructor } };
  };
  const client = new sessiond.v1.SessionService(server.address, credentials.createInsecure());
  const call = <T>(method: string, request: object, id?: string): Promise<T> => {
    const metadata = new Metadata();
    if (id !== undefined) metadata.set("x-session-id", id);
    return new Promise((resolve, reject) =>
      client[method](request, metadata, (err: ServiceError | null, response: T) =>
        err ? reject(err) : resolve(response),
      ),
    );
  };
  return { call, close: () => client.close() };
}

describe(`values nested ${MAX_JSON_DEPTH} levels, through decoders limited to 100 nested messages`, () => {
  it("the limit is 32: GetData of objects 32 deep needs exactly 100 nested messages", () => {
    // GetDataResponse > Struct > entry > Value (the top value, 3) + 3 per object level
    // (Struct, entry, Value) + the empty Struct at the bottom (1).
    assert.equal(MAX_JSON_DEPTH, 32);
    assert.equal(3 + 3 * MAX_JSON_DEPTH + 1, 100);
    assert.equal(MAX_STORED_JSON_DEPTH, 64);
  });

  it("@grpc/proto-loader (protobufjs) sets, gets and reads them back; one level more is refused", async () => {
    const { call, close } = protoLoaderClient();
    try {
      const seen: Seen[] = [];
      for (const kind of KINDS) {
        const set = await call<{ sessionId: string }>("Set", {
          key: "v",
          value: toValue(nested(kind, MAX_JSON_DEPTH)),
        });
        const got = await call<{ value: unknown }>("Get", { key: "v" }, set.sessionId);
        const data = await call<{ data: { fields: Record<string, unknown> } }>(
          "GetData",
          {},
          set.sessionId,
        );
        const deeper = await call(
          "Set",
          { key: "w", value: toValue(nested(kind, MAX_JSON_DEPTH + 1)) },
          set.sessionId,
        ).then(
          () => ["OK", ""] as [string, string],
          (err: ServiceError) => [status[err.code], err.details] as [string, string],
        );
        const fields = Object.entries(data.data.fields).map(([k, v]) => [k, fromValue(v)]);
        seen.push({ kind, get: fromValue(got.value), data: Object.fromEntries(fields), deeper });
      }
      assertAtTheLimit(seen, "proto-loader", "INVALID_ARGUMENT");
    } finally {
      close();
    }
  });

  it("Python grpcio (protobuf's C++ decoder) sets, gets and reads them back; one level more is refused", async () => {
    requirePython();
    const stubs = join(work, "python-stubs");
    mkdirSync(stubs);
    await runAsync(
      requireProtoc(),
      ["-I", "proto", `--python_out=${stubs}`, "sessiond/v1/session.proto"],
      { cwd: REPO_ROOT },
    );
    const stdout = await runAsync(
      SYSTEM_PYTHON,
      [
        join(REPO_ROOT, "test/support/python_depth_client.py"),
        server.address,
        stubs,
        String(MAX_JSON_DEPTH),
      ],
      { cwd: work },
    );
    const seen = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Seen);
    assertAtTheLimit(seen, "python", "INVALID_ARGUMENT");
  });

  it("grpc-go sets, gets and reads them back; one level more is refused", async () => {
    requireGo();
    const src = join(work, "go/src/sessiondclient");
    mkdirSync(join(src, "depth"), { recursive: true });
    copyFileSync(
      join(REPO_ROOT, "test/support/go_depth_client/main.go"),
      join(src, "depth/main.go"),
    );
    const mapping = "Msessiond/v1/session.proto=sessiondclient/sessiondv1";
    const goSrc = join(work, "go/src");
    await runAsync(
      requireProtoc(),
      [
        "-I",
        "proto",
        `--go_out=${goSrc}`,
        `--go_opt=${mapping}`,
        `--go-grpc_out=${goSrc}`,
        `--go-grpc_opt=${mapping}`,
        "sessiond/v1/session.proto",
      ],
      { cwd: REPO_ROOT },
    );
    const env = goEnv(join(work, "go"));
    await runAsync("go", ["build", "-o", "depth-client", "sessiondclient/depth"], {
      cwd: work,
      env,
    });
    const stdout = await runAsync(
      join(work, "depth-client"),
      [server.address, String(MAX_JSON_DEPTH)],
      { cwd: work, env },
    );
    const seen = stdout
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as Seen);
    assertAtTheLimit(seen, "go", "InvalidArgument");
  });
});

describe(`values an older sessiond stored deeper (up to ${MAX_STORED_JSON_DEPTH} levels)`, () => {
  it("Get and GetData return them as stored: the SDK reads them, a 100-level decoder cannot, Remove clears them", async () => {
    const sdk = new SessionClient(server.address);
    const { call, close } = protoLoaderClient();
    try {
      const session = sdk.session();
      await session.set("shallow", 1);
      const id = session.id as string;
      const old = nested("struct", MAX_STORED_JSON_DEPTH);
      // As an older version wrote it: straight into the storage, past today's write check.
      const applied = await server.storage.apply(
        id,
        { ops: [{ type: "set", key: "old", value: old }] },
        { mode: "existing", ttlMs: 60_000, limits: resolveLimits() },
      );
      assert.ok(applied, "the storage took the value");
      assert.deepStrictEqual(await session.get("old"), old, "the SDK reads it back");
      assert.deepStrictEqual(await session.getData(), { shallow: 1, old });
      await assert.rejects(
        call("Get", { key: "old" }, id),
        (err: ServiceError) =>
          err.code === status.INTERNAL && /maximum nesting depth exceeded/.test(err.details),
        "protobufjs stops at 100 nested messages, in the client",
      );
      // It cannot be written again as it is (the SDK refuses it before sending; the
      // server refuses anything past MAX_JSON_DEPTH, see above)...
      await assert.rejects(session.set("again", old), (err: ServiceError) => {
        assert.equal(err.code, status.INVALID_ARGUMENT);
        return true;
      });
      // ...and removing it, which reads nothing, makes the session readable to all again.
      await call("Remove", { keys: ["old"] }, id);
      const data = await call<{ data: { fields: Record<string, unknown> } }>("GetData", {}, id);
      assert.deepEqual(Object.keys(data.data.fields), ["shallow"]);
    } finally {
      close();
      sdk.close();
    }
  });
});
