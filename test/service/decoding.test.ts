// Exact decoding of SessionService requests, over a real gRPC server on 127.0.0.1: bytes
// that are not UTF-8 anywhere in a request, message fields sent twice, and keys named
// after Object.prototype's properties, "__proto__" first. Requests are built byte by byte
// (the generated encoder cannot produce most of them), responses read the same way.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { BinaryReader, BinaryWriter } from "@bufbuild/protobuf/wire";
import { type Client, credentials, type ServiceError, status } from "@grpc/grpc-js";
import { SessionClient } from "../../src/client/SessionClient.js";
import type { JsonValue } from "../../src/core/json.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { MAX_JSON_DEPTH } from "../../src/core/session/validate.js";
import { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { ROUND_TRIP_VALUES } from "../../src/testing/index.js";
import { failed, ok, rawBytesClient, rawCall, returnedId } from "../support/serviceRawCall.js";
import { type ServiceTestServer, startServiceTestServer } from "../support/serviceTestServer.js";

// --- requests and values, byte by byte -------------------------------------------------

const cat = (...parts: Uint8Array[]): Buffer => Buffer.concat(parts);
/** A length-delimited field holding `bytes` as they are (valid UTF-8 or not). */
const ld = (field: number, bytes: Uint8Array | number[]) =>
  new BinaryWriter()
    .uint32((field << 3) | 2)
    .bytes(Uint8Array.from(bytes))
    .finish();
const utf8 = (text: string) => Buffer.from(text, "utf8");

/** Value messages (their fields, without the tag of the field holding them). */
const v = {
  number: (n: number) => new BinaryWriter().uint32(17).double(n).finish(),
  string: (bytes: Uint8Array | number[]) => ld(3, bytes),
  text: (text: string) => ld(3, utf8(text)),
  struct: (...entries: Uint8Array[]) => ld(5, cat(...entries)),
  list: (...values: Uint8Array[]) => ld(6, cat(...values.map((item) => ld(1, item)))),
};
/** One Struct entry: key bytes as given, and a Value. */
const entry = (key: Uint8Array | number[] | string, value: Uint8Array) =>
  ld(1, cat(ld(1, typeof key === "string" ? utf8(key) : key), ld(2, value)));

const req = {
  set: (key: Uint8Array | number[] | string, value: Uint8Array) =>
    cat(ld(1, typeof key === "string" ? utf8(key) : key), ld(2, value)),
  setMap: (...entries: Uint8Array[]) => ld(1, cat(...entries)),
  key: (key: Uint8Array | number[]) => ld(1, key),
};

/** The length-delimited fields of a message, by number (last one wins: a test helper). */
function fieldsOf(bytes: Uint8Array): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [number, type] = reader.tag();
    if (type === 2) out.set(number, Buffer.from(reader.bytes()));
    else reader.skip(type, number);
  }
  return out;
}

const BAD_UTF8: [string, number[]][] = [
  ["6b fe", [0x6b, 0xfe]],
  ["6b ff", [0x6b, 0xff]],
  ["80", [0x80]], // a continuation byte alone
  ["c0 af", [0xc0, 0xaf]], // an overlong "/"
  ["ed a0 80", [0xed, 0xa0, 0x80]], // a UTF-16 surrogate (U+D800) in UTF-8 form
  ["e2 82", [0xe2, 0x82]], // a truncated sequence
  ["f4 90 80 80", [0xf4, 0x90, 0x80, 0x80]], // above U+10FFFF
];

// --- the server -------------------------------------------------------------------------

const Generic = rawBytesClient([
  "Set",
  "SetMap",
  "Get",
  "GetData",
  "Contains",
  "Remove",
  "Increment",
]);

describe("exact request decoding over gRPC", () => {
  let server: ServiceTestServer;
  let generic: Client;
  let sdk: SessionClient;
  before(async () => {
    server = await startServiceTestServer({ storage: new MemoryStorage() });
    generic = new Generic(server.address, credentials.createInsecure());
    sdk = new SessionClient(server.address);
  });
  after(async () => {
    generic?.close();
    sdk?.close();
    await server?.close();
    await server?.storage.close();
  });
  beforeEach(() => server.storage.resetCounts());

  const call = (method: string, bytes: Uint8Array, id?: string) =>
    rawCall<Buffer>(generic, method, Buffer.from(bytes), { id });

  /** The id of the session a successful call created. */
  const created = (out: Awaited<ReturnType<typeof call>>) => {
    ok(out);
    const id = returnedId(out);
    assert.ok(id, "the call created a session");
    return id;
  };

  /** Every case is refused with INVALID_ARGUMENT matching its message; none reaches the storage. */
  async function refused(cases: [string, Uint8Array, RegExp][]) {
    for (const [method, bytes, message] of cases) {
      const out = await call(method, bytes);
      failed(out, status.INVALID_ARGUMENT, message);
      assert.equal(returnedId(out), undefined, "no session was created");
    }
    assert.equal(server.storage.totalCalls, 0, "nothing reached the storage");
  }

  it("keys that are not UTF-8 (6b fe, 6b ff, …) are INVALID_ARGUMENT naming the field, in every request", async () => {
    const cases: [string, Uint8Array, RegExp][] = [];
    for (const [hex, bytes] of BAD_UTF8) {
      const named = (type: string) =>
        new RegExp(
          `^field key \\(1\\) of sessiond\\.v1\\.${type} is not valid UTF-8 \\(bytes ${hex}\\)`,
        );
      cases.push(
        ["set", req.set(bytes, v.number(1)), named("SetRequest")],
        ["get", req.key(bytes), named("GetRequest")],
        ["contains", req.key(bytes), named("ContainsRequest")],
        ["increment", req.key(bytes), named("IncrementRequest")],
        [
          "remove",
          cat(ld(1, utf8("ok")), ld(1, bytes)),
          /an element of field keys \(1\) of sessiond\.v1\.RemoveRequest is not valid UTF-8/,
        ],
        [
          "setMap",
          req.setMap(entry("ok", v.number(1)), entry(bytes, v.number(2))),
          new RegExp(`^data: a key is not valid UTF-8 \\(bytes ${hex}\\)`),
        ],
      );
    }
    await refused(cases);
    // The two keys that used to collide into "k\uFFFD" are both refused, and nothing exists.
    const id = created(await call("set", req.set("k", v.number(0))));
    server.storage.resetCounts();
    for (const last of [0xfe, 0xff]) {
      failed(
        await call("set", req.set([0x6b, last], v.number(1)), id),
        status.INVALID_ARGUMENT,
        /not valid UTF-8/,
      );
    }
    assert.equal(server.storage.totalCalls, 0);
    assert.deepEqual(await sdk.session(id).getData(), { k: 0 });
  });

  it("text that is not UTF-8 inside values and nested Struct keys is INVALID_ARGUMENT naming where", async () => {
    const bad = [0x6b, 0xfe];
    await refused([
      [
        "set",
        req.set("k", v.string(bad)),
        /^value: string_value is not valid UTF-8 \(bytes 6b fe\)/,
      ],
      [
        "set",
        req.set("k", v.struct(entry("a", v.list(v.number(1), v.string(bad))))),
        /^value\."a"\[1\]: string_value is not valid UTF-8/,
      ],
      [
        "set",
        req.set("k", v.struct(entry([0x6b, 0xff], v.number(1)))),
        /^value: a key is not valid UTF-8 \(bytes 6b ff\)/,
      ],
      [
        "set",
        req.set("k", v.list(v.struct(entry(bad, v.number(1))))),
        /^value\[0\]: a key is not valid UTF-8/,
      ],
      [
        "setMap",
        req.setMap(entry("s", v.string([0xed, 0xa0, 0x80]))),
        /^data\."s": string_value is not valid UTF-8 \(bytes ed a0 80\)/,
      ],
      [
        "setMap",
        req.setMap(entry("ok", v.struct(entry("inner", v.struct(entry(bad, v.text("x"))))))),
        /^data\."ok"\."inner": a key is not valid UTF-8/,
      ],
      [
        "setMap",
        req.setMap(entry("long", v.string([...utf8("x".repeat(40)), 0xff]))),
        /\(bytes (78 ){31}78 … \(41 bytes\)\)/,
      ],
    ]);
  });

  it("valid UTF-8 is kept byte for byte: U+FFFD itself, a leading BOM, astral characters, NUL", async () => {
    const keys = ["k", "k\uFFFD", "\uFEFFk", "😀", "a\u0000b", "\u2028"];
    const first = await call(
      "setMap",
      req.setMap(...keys.map((k, i) => entry(k, v.text(`${k}:${i}`)))),
    );
    const id = created(first);
    const data = await sdk.session(id).getData();
    assert.deepEqual(Object.keys(data), keys);
    for (const [i, k] of keys.entries()) assert.equal(data[k], `${k}:${i}`);
    const stored = await server.storage.inner.read(id, { ttlMs: 60_000 });
    assert.deepEqual(Object.keys(stored?.data ?? {}), keys);
  });

  it("a message field sent twice is refused, not merged, at every level", async () => {
    await refused([
      // The generated decoder kept the last of two `value`s, or of two `data`s.
      [
        "set",
        cat(req.set("k", v.number(1)), ld(2, v.number(2))),
        /^field value \(2\) of sessiond\.v1\.SetRequest appears twice; a message field sent twice is refused, not merged/,
      ],
      [
        "set",
        cat(req.set("k", v.number(1)), ld(2, v.number(1))),
        /field value \(2\) of sessiond\.v1\.SetRequest appears twice/,
      ],
      // Protobuf would merge these two into { a: 1, b: 2 }.
      [
        "setMap",
        cat(req.setMap(entry("a", v.number(1))), req.setMap(entry("b", v.number(2)))),
        /^field data \(1\) of sessiond\.v1\.SetMapRequest appears twice/,
      ],
      // Protobuf would merge two list_values into one list, and two struct_values into one.
      [
        "set",
        req.set("k", cat(v.list(v.number(1)), v.list(v.number(2)))),
        /^value: google\.protobuf\.Value sets list_value twice/,
      ],
      [
        "set",
        req.set(
          "k",
          v.struct(
            entry("a", cat(v.struct(entry("x", v.number(1))), v.struct(entry("y", v.number(2))))),
          ),
        ),
        /^value\."a": google\.protobuf\.Value sets struct_value twice/,
      ],
      [
        "set",
        req.set("k", cat(v.text("s"), v.number(1))),
        /^value: google\.protobuf\.Value sets string_value and number_value/,
      ],
      [
        "setMap",
        req.setMap(entry("a", v.number(1)), entry("a", v.number(2))),
        /^data\."a" appears twice in one google\.protobuf\.Struct/,
      ],
      [
        "setMap",
        req.setMap(ld(1, cat(ld(1, utf8("a")), ld(2, v.number(1)), ld(2, v.number(2))))),
        /^data: a google\.protobuf\.Struct entry sets its value twice/,
      ],
      [
        "setMap",
        req.setMap(ld(1, cat(ld(1, utf8("a")), ld(1, utf8("b")), ld(2, v.number(1))))),
        /^data: a google\.protobuf\.Struct entry sets its key twice/,
      ],
    ]);
  });

  it("a scalar field sent twice follows protobuf: the last one wins", async () => {
    const out = await call(
      "set",
      cat(ld(1, utf8("first")), ld(1, utf8("second")), ld(2, v.number(7))),
    );
    const id = created(out);
    assert.deepEqual(await sdk.session(id).getData(), { second: 7 });
  });

  it("a varint longer than 64 bits (expected_version 2^64 + 1) is INVALID_ARGUMENT, not its low bits", async () => {
    // Field 3 (expected_version) as a varint: ten bytes whose tenth carries more than one bit.
    const overflow = Buffer.from([
      0x18, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x02,
    ]);
    const eleven = Buffer.from([
      0x18, 0x81, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x00,
    ]);
    await refused([
      [
        "set",
        cat(req.set("k", v.number(1)), overflow),
        /expected_version \(3\).*longer than 64 bits/,
      ],
      ["set", cat(req.set("k", v.number(1)), eleven), /longer than 64 bits/],
    ]);
    // The largest 64-bit varint is fine (and out of range for a version: a clear refusal).
    const max = Buffer.from([0x18, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    failed(
      await call("set", cat(req.set("k", v.number(1)), max)),
      status.INVALID_ARGUMENT,
      /out of range/,
    );
  });

  it('"__proto__" and the other Object.prototype names are keys like any other, top level and nested', async () => {
    const nested = v.struct(
      entry("__proto__", v.struct(entry("polluted", v.number(1)))),
      entry("constructor", v.list(v.number(1))),
    );
    const data = cat(
      entry("__proto__", nested),
      entry("constructor", v.number(2)),
      entry("toString", v.text("t")),
    );
    const id = created(await call("setMap", ld(1, data)));
    assert.ok(id);

    // Read back on the wire: the same bytes came back, in the order they were sent.
    const got = fieldsOf(ok(await call("get", req.key(utf8("__proto__")), id)));
    assert.deepEqual(got.get(1), Buffer.from(nested));
    const all = fieldsOf(ok(await call("getData", new Uint8Array(0), id)));
    assert.deepEqual(all.get(1), Buffer.from(data));

    // Stored as own properties of a plain object; nothing reached Object.prototype.
    const stored = (await server.storage.inner.read(id, { ttlMs: 60_000 }))?.data ?? {};
    assert.equal(Object.getPrototypeOf(stored), Object.prototype);
    assert.deepEqual(Object.keys(stored), ["__proto__", "constructor", "toString"]);
    const inner = Object.getOwnPropertyDescriptor(stored, "__proto__")?.value as object;
    assert.equal(Object.getPrototypeOf(inner), Object.prototype);
    assert.deepEqual(Object.keys(inner), ["__proto__", "constructor"]);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);

    // The Node SDK reads and writes such keys too.
    const session = sdk.session(id);
    const expected = JSON.parse(
      '{"__proto__": {"__proto__": {"polluted": 1}, "constructor": [1]}, "constructor": 2, "toString": "t"}',
    );
    assert.deepStrictEqual(await session.getData(), expected);
    assert.deepStrictEqual(
      await session.get("__proto__"),
      Object.getOwnPropertyDescriptor(expected, "__proto__")?.value,
    );
    assert.equal(await session.contains("hasOwnProperty"), false);
    assert.equal(await session.get("valueOf"), undefined);
    await session.setMap(JSON.parse('{"__proto__": {"__proto__": 5}}'));
    assert.deepStrictEqual(await session.get("__proto__"), JSON.parse('{"__proto__": 5}'));
    assert.equal((await session.increment("hasOwnProperty", 3)).value, 3);
    await assert.rejects(
      session.increment("__proto__"),
      (err: ServiceError) => err.code === status.FAILED_PRECONDITION,
    );
    await session.remove("__proto__");
    assert.equal(await session.contains("__proto__"), false);
    assert.deepStrictEqual(await session.getData(), {
      constructor: 2,
      toString: "t",
      hasOwnProperty: 3,
    });
  });

  it("the Node SDK refuses lone surrogates (and non-JSON values) before sending", async () => {
    const session = sdk.session();
    const invalid = (details: RegExp) => (err: ServiceError) => {
      assert.equal(err.code, status.INVALID_ARGUMENT);
      assert.match(err.details, details);
      return true;
    };
    const lone = /lone UTF-16 surrogate/;
    await assert.rejects(
      session.set("k\uD800", 1),
      invalid(/^key contains a lone UTF-16 surrogate/),
    );
    await assert.rejects(
      session.set("k", "\uDC00"),
      invalid(/^value of key "k" contains a lone UTF-16 surrogate/),
    );
    await assert.rejects(session.set("k", { "\uD800": 1 }), invalid(lone));
    await assert.rejects(session.setMap({ "a\uDBFF": 1 }), invalid(lone));
    await assert.rejects(session.get("\uD800"), invalid(lone));
    await assert.rejects(session.contains("\uD800"), invalid(lone));
    await assert.rejects(session.remove(["ok", "\uD800"]), invalid(lone));
    await assert.rejects(session.increment("\uD800"), invalid(lone));
    await assert.rejects(session.set("k", new Date() as never), invalid(/not a plain JSON object/));
    await assert.rejects(session.setMap({ k: undefined as never }), invalid(/not a JSON value/));
    assert.equal(server.storage.totalCalls, 0, "no call reached the server's storage");
    assert.equal(session.id, undefined);
  });

  it("another JS client's lone surrogate arrives as U+FFFD, valid UTF-8, and is stored as that", async () => {
    // The generated grpc-js client encodes with TextEncoder, which substitutes U+FFFD: the
    // server receives valid UTF-8 and cannot know. (The README says so.)
    const plain = new SessionServiceClient(server.address, credentials.createInsecure());
    try {
      const out = await rawCall<{ sessionId: string }>(plain, "set", {
        key: "a\uD800",
        value: "b\uDC00",
      });
      const id = ok(out).sessionId;
      assert.deepEqual(await sdk.session(id).getData(), { "a\uFFFD": "b\uFFFD" });
    } finally {
      plain.close();
    }
  });

  it("every kind of JSON value round-trips exactly, and interoperates with the generated coder both ways", async () => {
    // Lengths around the ASCII fast path (64) and the varint steps (128, 16384 bytes).
    const lengths = [63, 64, 65, 127, 128, 16_383, 16_384];
    const values: Record<string, JsonValue> = { ...ROUND_TRIP_VALUES };
    for (const n of lengths) {
      values[`ascii${n}`] = "a".repeat(n);
      values[`utf8${n}`] = "é".repeat(n);
      values[`mixed${n}`] = `${"a".repeat(n - 1)}😀`;
    }
    const plain = new SessionServiceClient(server.address, credentials.createInsecure());
    try {
      // Written by the SDK (this package's encoder), read by both decoders.
      const mine = sdk.session();
      await mine.setMap(values);
      assert.deepStrictEqual(await mine.getData(), values);
      for (const [key, value] of Object.entries(values)) {
        assert.deepStrictEqual(await mine.get(key), value, key);
      }
      // The generated decoder reads the same, the deepest value (MAX_JSON_DEPTH) included.
      const read = await rawCall<{ data: unknown }>(plain, "getData", {}, { id: mine.id });
      assert.deepStrictEqual(ok(read).data, values, "the generated decoder reads the same");
      // Written by the generated encoder, read by this package's decoder.
      const written = await rawCall(plain, "setMap", { data: values });
      const other = returnedId(written) as string;
      assert.ok(other);
      assert.deepStrictEqual(await sdk.session(other).getData(), values);
    } finally {
      plain.close();
    }
  });

  it("values nest up to MAX_JSON_DEPTH (32) levels on the wire, as in the library; deeper is INVALID_ARGUMENT", async () => {
    assert.equal(MAX_JSON_DEPTH, 32);
    /** A Value nested `levels` times: lists, then an object, alternately, around a number. */
    const nestedValue = (levels: number) => {
      let bytes = v.number(1);
      for (let i = 0; i < levels; i++)
        bytes = i % 2 === 0 ? v.list(bytes) : v.struct(entry("k", bytes));
      return bytes;
    };
    const id = created(await call("set", req.set("deepest", nestedValue(32))));
    const map = await call("setMap", req.setMap(entry("also", nestedValue(32))), id);
    ok(map);
    const data = await sdk.session(id).getData();
    assert.deepEqual(Object.keys(data), ["deepest", "also"]);
    assert.equal(JSON.stringify(data.deepest), JSON.stringify(data.also));
    server.storage.resetCounts();
    await refused([
      [
        "set",
        req.set("k", nestedValue(33)),
        /^value(\[0\]|\."k")+ is nested deeper than 32 levels/,
      ],
      [
        "setMap",
        req.setMap(entry("k", nestedValue(33))),
        /^data\."k"(\[0\]|\."k")+ is nested deeper than 32 levels/,
      ],
    ]);
  });
});
