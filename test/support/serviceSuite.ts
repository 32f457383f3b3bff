import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { credentials, status } from "@grpc/grpc-js";
import { reasonOf } from "../../src/client/reasonOf.js";
import { SessionError } from "../../src/core/SessionError.js";
import type { Storage } from "../../src/core/storage/Storage.js";
import { Value } from "../../src/gen/google/protobuf/struct.js";
import {
  type DescribeResponse,
  type GetDataResponse,
  type GetResponse,
  type IncrementResponse,
  type RegenerateResponse,
  type RemoveResponse,
  SessionServiceClient,
  SetRequest,
  SetResponse,
  type SizeResponse,
  type TouchResponse,
} from "../../src/gen/sessiond/v1/session.js";
import { failed, ok, rawBytesClient, rawCall, returnedId } from "./serviceRawCall.js";
import { type ServiceTestServer, startServiceTestServer } from "./serviceTestServer.js";

/** Small limits so that exceeding them is cheap. */
export const SUITE_LIMITS = {
  maxKeyBytes: 64,
  maxValueBytes: 1024,
  maxKeys: 16,
  maxSessionBytes: 8192,
};

const MALFORMED_IDS = [
  "../x",
  "",
  "abc",
  "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345", // right length, wrong case
  "0123456789abcdef0123456789abcde/", // a path separator
  "0123456789abcdef0123456789abcd e", // a space
  "..%2f..%2f0123456789abcdef012345", // an encoded path
];

/**
 * The end-to-end SessionService suite over real gRPC channels, for any storage. It talks
 * to the storage only through the Storage interface, so it holds for storages whose state
 * lives outside this process (Redis). `createStorage` is called once per suite; the suite
 * closes the storage at the end.
 */
export function describeServiceSuite(
  name: string,
  createStorage: () => Storage | Promise<Storage>,
): void {
  describe(`SessionService over gRPC (${name} storage)`, () => {
    let server: ServiceTestServer;
    let client: SessionServiceClient;
    /** A second client on its own connection: what "another caller" sees. */
    let other: SessionServiceClient;

    before(async () => {
      server = await startServiceTestServer({
        storage: await createStorage(),
        manager: { limits: SUITE_LIMITS },
      });
      client = new SessionServiceClient(server.address, credentials.createInsecure());
      other = new SessionServiceClient(server.address, credentials.createInsecure(), {
        "grpc.use_local_subchannel_pool": 1,
      });
    });

    after(async () => {
      client?.close();
      other?.close();
      await server?.close();
      await server?.storage.close();
    });

    beforeEach(() => {
      server.storage.failure = undefined;
      server.storage.delayMs = 0;
    });

    const call = <Res>(method: string, req: unknown, id?: string, c = client) =>
      rawCall<Res>(c, method, req, { id });

    /** A fresh session holding `data`; returns its id. */
    async function seed(data: Record<string, unknown>): Promise<string> {
      const out = await call<SetResponse>("setMap", { data });
      const id = ok(out).sessionId;
      assert.equal(returnedId(out), id);
      return id;
    }

    describe("without a session", () => {
      it("reads return empty results, touch no storage and create nothing", async () => {
        server.storage.resetCounts();
        const get = await call<GetResponse>("get", { key: "a" });
        assert.deepEqual(ok(get), { value: undefined, found: false });
        assert.deepEqual(ok(await call<GetDataResponse>("getData", {})).data, {});
        assert.equal(ok(await call<{ found: boolean }>("contains", { key: "a" })).found, false);
        assert.equal(ok(await call<SizeResponse>("size", {})).size, 0);
        assert.equal(returnedId(get), undefined);
        assert.equal(server.storage.totalCalls, 0, "no id means nothing to read");
      });

      it("reads under an unknown id return empty results and create nothing", async () => {
        const unknown = "0123456789abcdefghijklmnopqrstuv";
        server.storage.resetCounts();
        const get = await call<GetResponse>("get", { key: "a" }, unknown);
        assert.equal(ok(get).found, false);
        assert.deepEqual(ok(await call<GetDataResponse>("getData", {}, unknown)).data, {});
        assert.equal(ok(await call<SizeResponse>("size", {}, unknown)).size, 0);
        assert.equal(returnedId(get), undefined);
        assert.equal(server.storage.calls.apply, 0);
      });

      it("Touch, Describe and Regenerate are NOT_FOUND; RemoveAll is a no-op", async () => {
        failed(await call("touch", {}), status.NOT_FOUND, /no session/);
        failed(await call("describe", {}), status.NOT_FOUND, /no session/);
        failed(await call("regenerate", {}), status.NOT_FOUND, /no session/);
        const unknown = "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz";
        failed(await call("touch", {}, unknown), status.NOT_FOUND);
        failed(await call("describe", {}, unknown), status.NOT_FOUND);
        failed(await call("regenerate", { keepOld: true }, unknown), status.NOT_FOUND);
        assert.deepEqual(ok(await call("removeAll", {})), {});
        assert.deepEqual(ok(await call("removeAll", {}, unknown)), {});
      });

      it("Remove is a no-op at version 0 that creates no session", async () => {
        server.storage.resetCounts();
        const out = await call<RemoveResponse>("remove", { keys: ["a"] });
        assert.equal(ok(out).version, 0n);
        assert.equal(returnedId(out), undefined);
        assert.equal(server.storage.totalCalls, 0, "no id: nothing to remove from");
        const unknown = "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy";
        const out2 = await call<RemoveResponse>("remove", { keys: ["a", "b"] }, unknown);
        assert.equal(ok(out2).version, 0n);
        assert.equal(returnedId(out2), undefined);
        assert.equal(await server.storage.inner.read(unknown, { ttlMs: 60_000 }), undefined);
        failed(await call("describe", {}, unknown), status.NOT_FOUND);
        failed(
          await call("remove", { keys: ["a"], expectedVersion: 3n }, unknown),
          status.ABORTED,
          /does not exist/,
        );
        failed(await call("remove", { keys: [""] }), status.INVALID_ARGUMENT, /key/);
      });
    });

    describe("writes", () => {
      it("Set without an id creates a session: id in metadata and in session_id", async () => {
        const out = await call<SetResponse>("set", { key: "k", value: "v" });
        const res = ok(out);
        assert.match(res.sessionId, /^[0-9a-z]{32}$/);
        assert.equal(returnedId(out), res.sessionId);
        assert.equal(out.headers?.get("x-session-id")[0], res.sessionId, "id rides in headers");
        assert.equal(res.version, 1n);
        const got = ok(await call<GetResponse>("get", { key: "k" }, res.sessionId));
        assert.deepEqual(got, { value: "v", found: true });
      });

      it("a write under an existing id returns no new id and bumps the version", async () => {
        const id = await seed({ a: 1 });
        const out = await call<SetResponse>("set", { key: "b", value: 2 }, id);
        assert.deepEqual(ok(out), { sessionId: id, version: 2n });
        assert.equal(returnedId(out), undefined);
      });

      it("a write under an unknown id gets a fresh id, not the supplied one", async () => {
        const supplied = "abcdefghijklmnopqrstuvwxyz012345";
        const out = await call<SetResponse>("set", { key: "k", value: 1 }, supplied);
        const res = ok(out);
        assert.notEqual(res.sessionId, supplied);
        assert.equal(returnedId(out), res.sessionId);
        failed(await call("describe", {}, supplied), status.NOT_FOUND);
        assert.equal(await server.storage.inner.read(supplied, { ttlMs: 60_000 }), undefined);
        assert.equal(ok(await call<GetResponse>("get", { key: "k" }, res.sessionId)).value, 1);
      });

      it("values of every JSON shape come back equal", async () => {
        const values: unknown[] = [
          null,
          true,
          false,
          0,
          -1.5,
          1e300,
          "",
          "héllo ✓ 𝄞",
          [],
          [1, "two", null, [3], { four: 4 }],
          {},
          { nested: { deeper: { list: [true, { x: "y" }] } }, empty: {} },
        ];
        const id = await seed({ start: 0 });
        for (const [i, value] of values.entries()) {
          ok(await call("set", { key: `v${i}`, value }, id));
        }
        for (const [i, value] of values.entries()) {
          const got = ok(await call<GetResponse>("get", { key: `v${i}` }, id));
          assert.deepEqual(got, { value, found: true }, `value ${i}`);
        }
        const data = ok(await call<GetDataResponse>("getData", {}, id)).data ?? {};
        assert.deepEqual(data[`v${values.length - 1}`], values[values.length - 1]);
      });

      it("SetMap merges keys; GetData, Contains and Size see them", async () => {
        const id = await seed({ a: 1, b: "x" });
        const out = ok(await call<SetResponse>("setMap", { data: { b: "y", c: [1] } }, id));
        assert.deepEqual(out, { sessionId: id, version: 2n });
        const data = ok(await call<GetDataResponse>("getData", {}, id)).data;
        assert.deepEqual(data, { a: 1, b: "y", c: [1] });
        assert.equal(ok(await call<SizeResponse>("size", {}, id)).size, 3);
        assert.equal(ok(await call<{ found: boolean }>("contains", { key: "c" }, id)).found, true);
        assert.equal(ok(await call<{ found: boolean }>("contains", { key: "z" }, id)).found, false);
      });

      it("Remove deletes keys (absent ones ignored) and returns the new version", async () => {
        const id = await seed({ a: 1, b: 2, c: 3 });
        const out = ok(await call<RemoveResponse>("remove", { keys: ["a", "c", "nope"] }, id));
        assert.equal(out.version, 2n);
        assert.deepEqual(ok(await call<GetDataResponse>("getData", {}, id)).data, { b: 2 });
      });

      it("Increment adds to a number, absent counting as 0, and creates a session", async () => {
        const first = await call<IncrementResponse>("increment", { key: "n", delta: 2.5 });
        const res = ok(first);
        assert.equal(res.value, 2.5);
        assert.equal(returnedId(first), res.sessionId);
        const again = ok(
          await call<IncrementResponse>("increment", { key: "n", delta: -1 }, res.sessionId),
        );
        assert.deepEqual(again, { sessionId: res.sessionId, version: 2n, value: 1.5 });
        assert.equal(ok(await call<GetResponse>("get", { key: "n" }, res.sessionId)).value, 1.5);
      });

      it("Increment of a string is FAILED_PRECONDITION and changes nothing", async () => {
        const id = await seed({ s: "text" });
        failed(await call("increment", { key: "s", delta: 1 }, id), status.FAILED_PRECONDITION);
        assert.equal(ok(await call<GetResponse>("get", { key: "s" }, id)).value, "text");
        assert.equal(ok(await call<DescribeResponse>("describe", {}, id)).version, 1n);
      });

      it("Increment by a non-finite delta is INVALID_ARGUMENT", async () => {
        const id = await seed({ n: 1 });
        failed(
          await call("increment", { key: "n", delta: Number.POSITIVE_INFINITY }, id),
          status.INVALID_ARGUMENT,
          /finite/,
        );
      });

      it("concurrent writes of different keys by two clients all survive", async () => {
        const id = await seed({ start: true });
        await Promise.all(
          Array.from({ length: 12 }, (_, i) =>
            call<SetResponse>("set", { key: `k${i}`, value: i }, id, i % 2 ? other : client).then(
              ok,
            ),
          ),
        );
        const data = ok(await call<GetDataResponse>("getData", {}, id)).data ?? {};
        for (let i = 0; i < 12; i++) assert.equal(data[`k${i}`], i);
        assert.equal(ok(await call<DescribeResponse>("describe", {}, id)).version, 13n);
      });
    });

    describe("expected_version", () => {
      it("a matching version applies; a stale one is ABORTED and applies nothing", async () => {
        const id = await seed({ a: 1 });
        const res = ok(
          await call<SetResponse>("set", { key: "a", value: 2, expectedVersion: 1n }, id),
        );
        assert.equal(res.version, 2n);
        for (const [method, req] of [
          ["set", { key: "a", value: 3, expectedVersion: 1n }],
          ["setMap", { data: { a: 3 }, expectedVersion: 1n }],
          ["remove", { keys: ["a"], expectedVersion: 1n }],
          ["increment", { key: "a", delta: 1, expectedVersion: 1n }],
        ] as const) {
          const err = failed(await call(method, req, id), status.ABORTED, /version/);
          // The reason in the status details, from every storage (Redis' scripts too).
          assert.deepEqual(reasonOf(err), {
            reason: "VERSION_MISMATCH",
            domain: "sessiond",
            metadata: { expected: "1", actual: "2" },
          });
        }
        assert.equal(ok(await call<GetResponse>("get", { key: "a" }, id)).value, 2);
        assert.equal(ok(await call<DescribeResponse>("describe", {}, id)).version, 2n);
      });

      it("0 means the session must not exist yet", async () => {
        const out = await call<SetResponse>("set", { key: "a", value: 1, expectedVersion: 0n });
        const id = ok(out).sessionId;
        assert.equal(returnedId(out), id);
        failed(await call("set", { key: "a", value: 2, expectedVersion: 0n }, id), status.ABORTED);
      });

      it("a non-zero version with no session is ABORTED and creates nothing", async () => {
        server.storage.resetCounts();
        const out = await call("set", { key: "a", value: 1, expectedVersion: 4n });
        assert.equal(
          reasonOf(failed(out, status.ABORTED, /does not exist/))?.reason,
          "VERSION_MISMATCH",
        );
        assert.equal(returnedId(out), undefined);
        assert.equal(server.storage.calls.apply, 0);
      });

      it("a version beyond 2^53 is INVALID_ARGUMENT", async () => {
        const id = await seed({ a: 1 });
        failed(
          await call("set", { key: "a", value: 1, expectedVersion: 2n ** 60n }, id),
          status.INVALID_ARGUMENT,
          /expected_version/,
        );
      });
    });

    describe("session lifecycle", () => {
      it("Touch returns an expiry in the future", async () => {
        const id = await seed({ a: 1 });
        const before = Date.now();
        const res = ok(await call<TouchResponse>("touch", {}, id));
        assert.ok(res.expireTime instanceof Date);
        assert.ok(res.expireTime.getTime() > before, "expiry is after the call");
      });

      it("Describe returns id, version, size and times", async () => {
        const before = Date.now();
        const id = await seed({ a: 1, b: 2 });
        ok(await call("set", { key: "c", value: 3 }, id));
        const d = ok(await call<DescribeResponse>("describe", {}, id));
        assert.equal(d.sessionId, id);
        assert.equal(d.version, 2n);
        assert.equal(d.size, 3);
        assert.ok(d.createTime && d.expireTime);
        assert.ok(d.createTime.getTime() >= before - 1000 && d.createTime.getTime() <= Date.now());
        assert.ok(d.expireTime.getTime() > d.createTime.getTime());
      });

      it("Regenerate moves the data to a new id and destroys the old one", async () => {
        const oldId = await seed({ a: 1, b: [2] });
        const out = await call<RegenerateResponse>("regenerate", {}, oldId);
        const res = ok(out);
        assert.notEqual(res.sessionId, oldId);
        assert.match(res.sessionId, /^[0-9a-z]{32}$/);
        assert.equal(returnedId(out), res.sessionId, "the new id rides in metadata");
        assert.equal(res.version, 1n);
        const data = ok(await call<GetDataResponse>("getData", {}, res.sessionId)).data;
        assert.deepEqual(data, { a: 1, b: [2] });
        assert.equal(ok(await call<GetResponse>("get", { key: "a" }, oldId)).found, false);
        failed(await call("describe", {}, oldId), status.NOT_FOUND);
      });

      it("Regenerate with keep_old leaves the old id readable", async () => {
        const oldId = await seed({ a: 1 });
        const res = ok(await call<RegenerateResponse>("regenerate", { keepOld: true }, oldId));
        assert.notEqual(res.sessionId, oldId);
        assert.equal(ok(await call<GetResponse>("get", { key: "a" }, oldId)).value, 1);
        assert.equal(ok(await call<GetResponse>("get", { key: "a" }, res.sessionId)).value, 1);
      });

      it("RemoveAll deletes the session and is idempotent", async () => {
        const id = await seed({ a: 1 });
        assert.deepEqual(ok(await call("removeAll", {}, id)), {});
        assert.deepEqual(ok(await call("removeAll", {}, id)), {});
        failed(await call("describe", {}, id), status.NOT_FOUND);
        assert.equal(await server.storage.inner.read(id, { ttlMs: 60_000 }), undefined);
      });
    });

    describe("status codes for bad input", () => {
      it("a malformed id is INVALID_ARGUMENT on every RPC, before any storage call", async () => {
        server.storage.resetCounts();
        for (const bad of MALFORMED_IDS) {
          for (const [method, req] of [
            ["get", { key: "a" }],
            ["getData", {}],
            ["contains", { key: "a" }],
            ["size", {}],
            ["set", { key: "a", value: 1 }],
            ["setMap", { data: { a: 1 } }],
            ["remove", { keys: ["a"] }],
            ["removeAll", {}],
            ["touch", {}],
            ["regenerate", {}],
            ["describe", {}],
            ["increment", { key: "a", delta: 1 }],
          ] as const) {
            const out = await call(method, req, bad);
            failed(out, status.INVALID_ARGUMENT, /malformed session id/);
            assert.equal(returnedId(out), undefined);
          }
        }
        assert.equal(server.storage.totalCalls, 0);
      });

      it("an empty key is INVALID_ARGUMENT", async () => {
        const id = await seed({ a: 1 });
        failed(await call("get", { key: "" }, id), status.INVALID_ARGUMENT, /key/);
        failed(await call("contains", { key: "" }, id), status.INVALID_ARGUMENT, /key/);
        failed(await call("set", { key: "", value: 1 }, id), status.INVALID_ARGUMENT, /key/);
        failed(await call("increment", { key: "", delta: 1 }, id), status.INVALID_ARGUMENT);
        failed(await call("setMap", { data: { "": 1 } }, id), status.INVALID_ARGUMENT, /key/);
        failed(await call("set", { key: "", value: 1 }), status.INVALID_ARGUMENT, /key/);
      });

      it("Set without a value, SetMap without data, Remove without keys: INVALID_ARGUMENT", async () => {
        failed(await call("set", { key: "a" }), status.INVALID_ARGUMENT, /needs a value/);
        failed(await call("setMap", {}), status.INVALID_ARGUMENT, /at least one key/);
        failed(await call("setMap", { data: {} }), status.INVALID_ARGUMENT, /at least one key/);
        failed(await call("remove", { keys: [] }), status.INVALID_ARGUMENT, /at least one key/);
      });

      it("a key over maxKeyBytes is INVALID_ARGUMENT naming the limit", async () => {
        const key = "k".repeat(SUITE_LIMITS.maxKeyBytes + 1);
        failed(await call("set", { key, value: 1 }), status.INVALID_ARGUMENT, /maxKeyBytes/);
      });

      it("an oversize value is RESOURCE_EXHAUSTED and writes nothing", async () => {
        const id = await seed({ a: 1 });
        const big = "x".repeat(SUITE_LIMITS.maxValueBytes + 1);
        failed(
          await call("set", { key: "big", value: big }, id),
          status.RESOURCE_EXHAUSTED,
          /maxValueBytes/,
        );
        failed(
          await call("setMap", { data: { fine: 1, big } }, id),
          status.RESOURCE_EXHAUSTED,
          /maxValueBytes/,
        );
        assert.deepEqual(ok(await call<GetDataResponse>("getData", {}, id)).data, { a: 1 });
        const fresh = await call("set", { key: "big", value: big });
        failed(fresh, status.RESOURCE_EXHAUSTED);
        assert.equal(returnedId(fresh), undefined, "nothing was created");
      });

      it("too many keys is RESOURCE_EXHAUSTED naming maxKeys and writes nothing", async () => {
        const data: Record<string, number> = {};
        for (let i = 0; i < SUITE_LIMITS.maxKeys; i++) data[`k${i}`] = i;
        const id = await seed(data);
        failed(
          await call("set", { key: "one-more", value: 1 }, id),
          status.RESOURCE_EXHAUSTED,
          /maxKeys/,
        );
        assert.equal(ok(await call<SizeResponse>("size", {}, id)).size, SUITE_LIMITS.maxKeys);
      });

      it("a storage that is unavailable gives UNAVAILABLE, for reads and writes", async () => {
        const id = await seed({ a: 1 });
        server.storage.failure = {
          error: new SessionError("unavailable", "storage unreachable (test)"),
        };
        // The storage's own words stay in the log; the caller gets generic ones.
        const err = failed(await call("get", { key: "a" }, id), status.UNAVAILABLE);
        assert.equal(err.details, "storage unavailable (the server's log has the details)");
        assert.ok(
          server.logs.some(
            (l) => l.msg === "storage unavailable" && l.fields.err === "storage unreachable (test)",
          ),
          "the storage's message is logged",
        );
        failed(await call("set", { key: "a", value: 2 }, id), status.UNAVAILABLE);
        failed(await call("set", { key: "a", value: 2 }), status.UNAVAILABLE);
        failed(await call("describe", {}, id), status.UNAVAILABLE);
        server.storage.failure = undefined;
        assert.equal(ok(await call<GetResponse>("get", { key: "a" }, id)).value, 1);
      });

      it("an unexpected storage error is INTERNAL with a generic message, logged with its stack", async () => {
        const id = await seed({ a: 1 });
        server.storage.failure = { error: new Error("disk on fire /secret/path") };
        const err = failed(await call("get", { key: "a" }, id), status.INTERNAL);
        assert.equal(err.details, "internal error");
        const line = server.logs.find(
          (l) => l.level === "error" && /disk on fire/.test(String(l.fields.err)),
        );
        assert.ok(line, "the error is logged");
        assert.match(String(line.fields.stack), /at /, "with its stack");
      });

      describe("raw request bytes", () => {
        const Generic = rawBytesClient(["Set", "SetMap", "Get", "GetData"]);
        let generic: InstanceType<typeof Generic>;
        before(() => {
          generic = new Generic(server.address, credentials.createInsecure());
        });
        after(() => generic?.close());

        /** A length-delimited field. */
        const ld = (field: number, bytes: Uint8Array) =>
          new BinaryWriter()
            .uint32((field << 3) | 2)
            .bytes(bytes)
            .finish();
        const cat = (...parts: Uint8Array[]) => Buffer.concat(parts);
        const value = (v: unknown) => Value.encode(Value.wrap(v)).finish();
        const emptyValue = new Uint8Array(0);
        /** A Struct with one entry, built on the wire. */
        const structOf = (key: string, valueBytes: Uint8Array) =>
          ld(1, cat(new BinaryWriter().uint32(10).string(key).finish(), ld(2, valueBytes)));
        const setReq = (valueBytes: Uint8Array) =>
          cat(new BinaryWriter().uint32(10).string("k").finish(), ld(2, valueBytes));

        it("unknown fields, and known ones of the wrong wire type, are INVALID_ARGUMENT naming them", async () => {
          server.storage.resetCounts();
          const known = Buffer.from(SetRequest.encode({ key: "k", value: "v" }).finish());
          // field 99 varint 7; field 100 length-delimited "junk"
          const unknown = Buffer.from([0x98, 0x06, 0x07, 0xa2, 0x06, 0x04, 0x6a, 0x75, 0x6e, 0x6b]);
          const cases: [string, Buffer, RegExp][] = [
            [
              "set",
              Buffer.concat([unknown, known]),
              /unknown field 99 in sessiond\.v1\.SetRequest/,
            ],
            [
              "set",
              Buffer.concat([known, unknown]),
              /unknown field 99 in sessiond\.v1\.SetRequest/,
            ],
            // key (1) as a varint instead of a string
            [
              "get",
              Buffer.from([0x08, 0x01]),
              /field key \(1\) of sessiond\.v1\.GetRequest arrived as varint, expected length-delimited/,
            ],
            // GetData takes no fields at all
            [
              "getData",
              Buffer.from([0x08, 0x01]),
              /unknown field 1 in sessiond\.v1\.GetDataRequest/,
            ],
            // a Value with an undeclared field 9 beside its string kind
            [
              "set",
              setReq(
                cat(new BinaryWriter().uint32(26).string("v").finish(), Buffer.from([0x48, 0x01])),
              ),
              /value: google\.protobuf\.Value has no field 9 of wire type varint/,
            ],
            // a Struct entry with an undeclared field 3
            [
              "setMap",
              cat(
                ld(
                  1,
                  cat(
                    ld(
                      1,
                      cat(
                        new BinaryWriter().uint32(10).string("a").finish(),
                        ld(2, value(1)),
                        Buffer.from([0x18, 0x01]),
                      ),
                    ),
                  ),
                ),
              ),
              /data: a google\.protobuf\.Struct entry has no field 3/,
            ],
          ];
          for (const [method, bytes, message] of cases) {
            const out = await rawCall(generic, method, bytes);
            failed(out, status.INVALID_ARGUMENT, message);
            assert.equal(returnedId(out), undefined);
          }
          assert.equal(server.storage.totalCalls, 0, "nothing reached the storage");
          // The same request without the stray field is accepted.
          assert.equal(
            SetResponse.decode(ok(await rawCall<Buffer>(generic, "set", known))).version,
            1n,
          );
        });

        it("bytes that are not a message are INVALID_ARGUMENT, not INTERNAL", async () => {
          const truncated = Buffer.from([0x0a, 0xff, 0xff, 0xff]);
          failed(
            await rawCall(generic, "set", truncated),
            status.INVALID_ARGUMENT,
            /malformed request/,
          );
          failed(
            await rawCall(generic, "get", truncated),
            status.INVALID_ARGUMENT,
            /malformed request/,
          );
        });

        it("JSON values the decoder would silently drop are INVALID_ARGUMENT", async () => {
          server.storage.resetCounts();
          const cases: [string, Buffer, RegExp][] = [
            ["set", setReq(emptyValue), /value is a google.protobuf.Value with no kind set/],
            [
              "set",
              setReq(ld(6, cat(ld(1, value(1)), ld(1, emptyValue)))),
              /value\[1\] is a google.protobuf.Value with no kind set/,
            ],
            [
              "setMap",
              cat(ld(1, structOf("a", cat(ld(5, structOf("b", emptyValue)))))),
              /data\."a"\."b" is a google.protobuf.Value with no kind set/,
            ],
          ];
          for (const [method, bytes, message] of cases) {
            const out = await rawCall(generic, method, bytes);
            failed(out, status.INVALID_ARGUMENT, message);
            assert.equal(returnedId(out), undefined);
          }
          assert.equal(server.storage.totalCalls, 0, "nothing reached the storage");
        });
      });
    });

    it("the gsession HTTP scenario, over gRPC", async () => {
      const set1 = await call<SetResponse>("set", { key: "key1", value: 100 });
      const id = returnedId(set1);
      assert.ok(id, "the id comes back in response metadata");
      assert.equal(ok(set1).sessionId, id);
      const set2 = await call<SetResponse>("set", { key: "key2", value: 200 }, id);
      ok(set2);
      assert.equal(returnedId(set2), undefined, "same session, no new id");
      assert.deepEqual(ok(await call<GetResponse>("get", { key: "key1" }, id)), {
        value: 100,
        found: true,
      });
      assert.deepEqual(ok(await call<GetResponse>("get", { key: "key2" }, id)), {
        value: 200,
        found: true,
      });
      ok(await call("remove", { keys: ["key1"] }, id));
      assert.equal(ok(await call<GetResponse>("get", { key: "key1" }, id)).found, false);
      assert.equal(ok(await call<GetResponse>("get", { key: "key2" }, id)).value, 200);
      ok(await call("removeAll", {}, id));
      assert.equal(ok(await call<GetResponse>("get", { key: "key2" }, id)).found, false);
      failed(await call("describe", {}, id), status.NOT_FOUND);
    });

    it("read-your-writes: a Set's response means durable, 200 times in a row", async () => {
      const id = await seed({ n: -1 });
      const expiry = { ttlMs: 60_000 };
      for (let i = 0; i < 200; i++) {
        ok(await call("set", { key: "n", value: i }, id));
        const stored = await server.storage.inner.read(id, expiry);
        assert.equal(stored?.data.n, i, `storage holds write ${i} when its response arrives`);
        const seen = await call<GetResponse>("get", { key: "n" }, id, other);
        assert.equal(ok(seen).value, i, `another client reads write ${i}`);
      }
    });
  });
}
