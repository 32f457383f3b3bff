// toValue/fromValue: JSON <-> the google.protobuf.Value objects @grpc/proto-loader encodes
// and decodes. Round trips go through the helpers alone and through proto-loader's own
// serializer and deserializer (every option set a caller is likely to load it with).
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  credentials,
  loadPackageDefinition,
  Metadata,
  type ServiceClientConstructor,
  type ServiceError,
} from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fromValue, toValue } from "../../src/client/index.js";
import { SessionError } from "../../src/core/SessionError.js";
import { startServer } from "../../src/server/startServer.js";
import { REPO_ROOT } from "../support/serverProcess.js";

const withProto = JSON.parse(
  '{"__proto__": {"__proto__": 1, "constructor": [true]}, "toString": "x"}',
);

const SAMPLES: Array<[string, unknown]> = [
  ["null", null],
  ["true", true],
  ["false", false],
  ["zero", 0],
  ["negative fraction", -12.5],
  ["2^53 + 2 (a large int, as a double)", 2 ** 53 + 2],
  ["Number.MAX_VALUE", Number.MAX_VALUE],
  ["Number.MIN_VALUE", Number.MIN_VALUE],
  ["empty string", ""],
  ["unicode string", "naïve 日本 😀 \u0000 \ufeff"],
  ["empty list", []],
  ["empty struct", {}],
  ["list of every kind", [null, true, 1, "s", [], {}]],
  ["nesting", { cart: { items: ["book", { sku: 42, tags: [[], [{}]] }], total: 12.5 } }],
  ["unicode keys", { 日本: 1, "😀": { "": "empty key", "a b": [1] } }],
  ["__proto__, constructor, toString as own keys", withProto],
];

/** Deep equality that also tells own `__proto__` keys and -0 apart. */
function assertSameJson(actual: unknown, expected: unknown, what: string): void {
  assert.deepStrictEqual(actual, expected, what);
  assert.equal(JSON.stringify(actual), JSON.stringify(expected), `${what}: JSON text`);
}

const loaderOptions: protoLoader.Options[] = [
  {},
  { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true },
  { defaults: true },
  { enums: String },
];

function valueCodec(options: protoLoader.Options) {
  const definition = protoLoader.loadSync(
    join(REPO_ROOT, "proto/sessiond/v1/session.proto"),
    options,
  );
  return definition["sessiond.v1.GetResponse"] as protoLoader.MessageTypeDefinition<object, object>;
}

describe("toValue / fromValue", () => {
  for (const [name, json] of SAMPLES) {
    it(`round trip: ${name}`, () => {
      assertSameJson(fromValue(toValue(json)), json, "helpers only");
      assertSameJson(fromValue(toValue(json, { oneofs: true })), json, "with kind");
      for (const options of loaderOptions) {
        const codec = valueCodec(options);
        const decoded = codec.deserialize(
          codec.serialize({ value: toValue(json), found: true }),
        ) as {
          value: unknown;
        };
        assertSameJson(
          fromValue(decoded.value),
          json,
          `through proto-loader ${JSON.stringify(options)}`,
        );
      }
    });
  }

  it("builds the object shape proto-loader takes, with kind only when asked", () => {
    assert.deepStrictEqual(toValue({ a: [1, "x", null, false] }), {
      structValue: {
        fields: {
          a: {
            listValue: {
              values: [
                { numberValue: 1 },
                { stringValue: "x" },
                { nullValue: "NULL_VALUE" },
                { boolValue: false },
              ],
            },
          },
        },
      },
    });
    assert.deepStrictEqual(toValue([{}], { oneofs: true }), {
      listValue: { values: [{ structValue: { fields: {} }, kind: "structValue" }] },
      kind: "listValue",
    });
  });

  it("equals what proto-loader with oneofs: true decodes", () => {
    const codec = valueCodec({ oneofs: true, enums: String, defaults: true });
    const json = { a: [1, null, { b: "c" }] };
    const decoded = codec.deserialize(codec.serialize({ value: toValue(json) })) as {
      value: unknown;
    };
    assert.deepStrictEqual(decoded.value, toValue(json, { oneofs: true }));
  });

  it("keeps __proto__ as an own key and pollutes nothing", () => {
    const value = toValue(withProto) as { structValue: { fields: object } };
    assert.ok(Object.hasOwn(value.structValue.fields, "__proto__"), "own __proto__ field");
    assert.equal(
      Object.getPrototypeOf(value.structValue.fields),
      Object.prototype,
      "prototype unchanged",
    );
    const back = fromValue(value) as Record<string, unknown>;
    assert.ok(Object.hasOwn(back, "__proto__"), "own __proto__ key read back");
    assert.equal(Object.getPrototypeOf(back), Object.prototype, "prototype unchanged");
    assert.equal(({} as Record<string, unknown>).constructor, Object, "Object.prototype untouched");
  });

  it("-0: carried as -0 by the Value (the server stores it as 0)", () => {
    const value = toValue(-0) as { numberValue: number };
    assert.ok(Object.is(value.numberValue, -0), "numberValue is -0");
    assert.ok(Object.is(fromValue(value), -0), "read back as -0");
    const codec = valueCodec({});
    const decoded = codec.deserialize(codec.serialize({ value })) as { value: unknown };
    assert.ok(Object.is(fromValue(decoded.value), -0), "-0 survives protobuf's double");
  });

  it("refuses what JSON cannot carry, naming the path", () => {
    const cycle: Record<string, unknown> = { a: 1 };
    cycle.self = { back: cycle };
    const cases: Array<[unknown, RegExp]> = [
      [{ cart: { items: [1, 2, Number.NaN] } }, /the value at cart\.items\[2\] is NaN/],
      [Number.POSITIVE_INFINITY, /the value is Infinity/],
      [{ a: [Number.NEGATIVE_INFINITY] }, /a\[0\] is -Infinity/],
      [{ a: undefined }, /the value at a is undefined/],
      [undefined, /the value is undefined/],
      // biome-ignore lint/suspicious/noSparseArray: the hole is the case under test
      [[1, , 3], /\[1\] is undefined/],
      [{ f: () => 1 }, /at f is a function/],
      [{ "a b": { n: 10n } }, /at \["a b"\]\.n is a bigint \(10n\)/],
      [{ s: Symbol("x") }, /at s is a symbol/],
      [{ when: new Date(0) }, /at when is a Date, not a plain JSON object/],
      [{ m: new Map() }, /at m is a Map/],
      [cycle, /at self\.back refers back to itself \(a cycle\)/],
      [{ bad: "\ud800" }, /at bad contains a lone UTF-16 surrogate/],
      [{ "\udc00": 1 }, /has a key with a lone UTF-16 surrogate/],
    ];
    for (const [json, message] of cases) {
      assert.throws(
        () => toValue(json),
        (err: unknown) =>
          err instanceof SessionError &&
          err.code === "invalid_argument" &&
          message.test(err.message) &&
          err.message.startsWith("toValue: "),
        `toValue should refuse with ${message}`,
      );
    }
  });

  it("a shared (not cyclic) object is fine", () => {
    const shared = { x: 1 };
    assertSameJson(
      fromValue(toValue([shared, shared, { shared }])),
      [{ x: 1 }, { x: 1 }, { shared: { x: 1 } }],
      "shared",
    );
  });

  it("refuses Values that are not JSON, naming the path", () => {
    const cases: Array<[unknown, RegExp]> = [
      [undefined, /the value is undefined, not a google\.protobuf\.Value object/],
      [null, /the value is null/],
      [{}, /the value has no kind set/],
      [{ structValue: { fields: { a: {} } } }, /the value at a has no kind set/],
      [{ numberValue: 1, stringValue: "x" }, /more than one kind set \(numberValue, stringValue\)/],
      [{ listValue: { values: [{ numberValue: Number.NaN }] } }, /\[0\] has numberValue NaN/],
      [{ numberValue: "Infinity" }, /has numberValue Infinity, which JSON cannot carry/],
      [{ kind: "weird" }, /unknown kind "weird"/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => fromValue(value),
        (err: unknown) =>
          err instanceof SessionError &&
          err.code === "invalid_argument" &&
          message.test(err.message),
        `fromValue should refuse with ${message}`,
      );
    }
  });

  it("believes kind over other fields present", () => {
    assert.equal(fromValue({ kind: "stringValue", stringValue: "s", numberValue: 0 }), "s");
    assert.equal(fromValue({ nullValue: 0, kind: "nullValue" }), null);
  });
});

describe("toValue / fromValue through proto-loader and a real server", () => {
  it("every sample is written with Set and read back equal with Get (-0 as 0)", async () => {
    const server = await startServer({ port: 0, storage: "memory" });
    const definition = protoLoader.loadSync(join(REPO_ROOT, "proto/sessiond/v1/session.proto"), {
      longs: String,
      oneofs: true,
      enums: String,
      defaults: true,
    });
    const { sessiond } = loadPackageDefinition(definition) as unknown as {
      sessiond: { v1: { SessionService: ServiceClientConstructor } };
    };
    const client = new sessiond.v1.SessionService(server.address, credentials.createInsecure());
    const call = <T>(method: string, request: object, metadata: Metadata) =>
      new Promise<T>((resolve, reject) =>
        client[method](request, metadata, (err: ServiceError | null, response: T) =>
          err ? reject(err) : resolve(response),
        ),
      );
    try {
      const session = new Metadata();
      const first = await call<{ sessionId: string }>(
        "Set",
        { key: "k", value: toValue(1) },
        session,
      );
      session.set("x-session-id", first.sessionId);
      for (const [name, json] of [...SAMPLES, ["-0", -0] as [string, unknown]]) {
        await call("Set", { key: name, value: toValue(json) }, session);
        const got = await call<{ value: unknown; found: boolean }>("Get", { key: name }, session);
        assert.equal(got.found, true, `${name}: found`);
        assertSameJson(fromValue(got.value), name === "-0" ? 0 : json, `${name}: read back`);
      }
      const missing = await call<{ value: unknown; found: boolean }>(
        "Get",
        { key: "absent" },
        session,
      );
      assert.equal(missing.found, false, "an absent key is not found");
      assert.throws(
        () => fromValue(missing.value),
        /the value is null/,
        "and has no Value to read",
      );
    } finally {
      client.close();
      await server.shutdown();
    }
  });
});
