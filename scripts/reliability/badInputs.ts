import { Metadata, status } from "@grpc/grpc-js";
import { defaultLimits } from "../../src/core/Limits.js";
import { double, ld, stringValue, struct, varint } from "./protoBytes.js";

/** The kinds of caller mistakes the run sends, as the table counts them. */
export type BadInputKind =
  | "malformed id"
  | "oversize value"
  | "too many keys"
  | "unknown field"
  | "invalid UTF-8";

export interface BadInput {
  kind: BadInputKind;
  /** What it is, for the report when it is answered wrongly. */
  name: string;
  /** The method's full path. */
  path: string;
  bytes: Uint8Array;
  metadata: Metadata;
  /** Costs the server seconds of CPU: sent in one round of HEAVY_EVERY only. */
  heavy?: boolean;
}

export const HEAVY_EVERY = 5;
/** Keys in the largest request that still fits the 4 MB message limit (~3.4 MB). */
const HUGE_KEYS = 200_000;

/** The sessions bad inputs are aimed at (so that a wrongly accepted one would show). */
export interface Targets {
  /** A session holding a few keys and one large value. */
  plain: string;
  /** A session already holding maxKeys keys. */
  full: string;
}

/** What every bad input must get: a caller's error, never UNAVAILABLE, INTERNAL or OK. */
export const EXPECTED_CODES: readonly status[] = [
  status.INVALID_ARGUMENT,
  status.RESOURCE_EXHAUSTED,
];

const methodPath = (method: string) => `/sessiond.v1.SessionService/${method}`;
const INVALID_UTF8 = [
  Buffer.from([0xff, 0xfe, 0x41]),
  Buffer.from([0xc3, 0x28]), // a lead byte followed by a non-continuation byte
  Buffer.from([0xed, 0xa0, 0x80]), // an encoded UTF-16 surrogate
  Buffer.from([0x61, 0x80]), // a lone continuation byte
];

function withId(id: string | undefined): Metadata {
  const md = new Metadata();
  if (id !== undefined) md.set("x-session-id", id);
  return md;
}

const setBytes = (key: Uint8Array | string, value: Uint8Array) =>
  Buffer.concat([ld(1, key), ld(2, value)]);
const setMapBytes = (entries: ReadonlyArray<readonly [Uint8Array | string, Uint8Array]>) =>
  ld(1, struct(entries));

/**
 * One round of every bad input, against the target sessions. Sizes follow the server's
 * default limits (the run starts sessiond with them).
 */
export function badInputs(targets: Targets): BadInput[] {
  const { plain, full } = targets;
  const L = defaultLimits;
  const ok = stringValue("fine");
  const out: BadInput[] = [];
  const add = (
    kind: BadInputKind,
    name: string,
    method: string,
    bytes: Uint8Array,
    metadata = withId(plain),
    heavy = false,
  ) => out.push({ kind, name, path: methodPath(method), bytes, metadata, heavy });

  // Malformed ids: a write under any of them must not create or touch a session.
  for (const [name, id] of [
    ["id of 3 characters", "abc"],
    ["id of 32 upper-case characters", "A".repeat(32)],
    ["id of 32 characters with a '/'", `${"a".repeat(16)}/${"b".repeat(15)}`],
    ["id of 300 characters", "a".repeat(300)],
    ["path-traversal id", "../../../../../../../../etc/passwd"],
  ] as const) {
    add("malformed id", `Set under an ${name}`, "Set", setBytes("k", ok), withId(id));
  }
  const twoIds = withId(plain);
  twoIds.add("x-session-id", plain);
  add("malformed id", "Get with two x-session-id entries", "Get", ld(1, "k"), twoIds);
  const cookie = new Metadata();
  cookie.set("cookie", "x-session-id=../../../etc/passwd");
  add("malformed id", "Set with a path-traversal id in a cookie", "Set", setBytes("k", ok), cookie);

  // Oversize: one value, one key, a whole session, a whole message.
  add(
    "oversize value",
    `Set of a ${L.maxValueBytes + 1000}-byte value`,
    "Set",
    setBytes("big", stringValue("v".repeat(L.maxValueBytes + 1000))),
  );
  add(
    "oversize value",
    `Set of a ${L.maxKeyBytes + 1}-byte key`,
    "Set",
    setBytes("k".repeat(L.maxKeyBytes + 1), ok),
  );
  add(
    "oversize value",
    `SetMap of one ${3 * L.maxValueBytes}-byte value`,
    "SetMap",
    setMapBytes([["big", stringValue("v".repeat(3 * L.maxValueBytes))]]),
  );
  const sessionFill = Math.ceil((L.maxSessionBytes * 1.2) / (L.maxValueBytes - 100));
  add(
    "oversize value",
    `SetMap of ${sessionFill} values of ${L.maxValueBytes - 100} bytes (over maxSessionBytes)`,
    "SetMap",
    setMapBytes(
      Array.from({ length: sessionFill }, (_, i) => [
        `big${i}`,
        stringValue("v".repeat(L.maxValueBytes - 102)),
      ]),
    ),
  );
  add(
    "oversize value",
    "Set of a 5 MB message (over the 4 MB gRPC message limit)",
    "Set",
    setBytes("big", stringValue("v".repeat(5 * 1024 * 1024))),
    withId(plain),
    true,
  );

  // Too many keys: in one request, and into a session that is already full.
  add(
    "too many keys",
    `SetMap of ${L.maxKeys + 1} keys`,
    "SetMap",
    setMapBytes(Array.from({ length: L.maxKeys + 1 }, (_, i) => [`many${i}`, ok])),
  );
  add(
    "too many keys",
    `SetMap of ${HUGE_KEYS.toLocaleString("en-US")} keys`,
    "SetMap",
    setMapBytes(Array.from({ length: HUGE_KEYS }, (_, i) => [`k${i}`, ok])),
    withId(plain),
    true,
  );
  add(
    "too many keys",
    `Remove of ${HUGE_KEYS.toLocaleString("en-US")} keys`,
    "Remove",
    Buffer.concat(Array.from({ length: HUGE_KEYS }, (_, i) => ld(1, `k${i}`))),
    withId(plain),
    true,
  );
  add(
    "too many keys",
    "SetMap of 40 new keys into a full session",
    "SetMap",
    setMapBytes(Array.from({ length: 40 }, (_, i) => [`more${i}`, ok])),
    withId(full),
  );
  add(
    "too many keys",
    "Set of one new key into a full session",
    "Set",
    setBytes("one-more", ok),
    withId(full),
  );
  add(
    "too many keys",
    "Increment of a new key in a full session",
    "Increment",
    Buffer.concat([ld(1, "new-counter"), double(2, 1)]),
    withId(full),
  );

  // Fields the schema does not declare, or declared fields with the wrong wire type.
  add(
    "unknown field",
    "GetRequest with field 15",
    "Get",
    Buffer.concat([ld(1, "k"), varint(15, 1)]),
  );
  add(
    "unknown field",
    "SetRequest with field 99",
    "Set",
    Buffer.concat([setBytes("k", ok), ld(99, "x")]),
  );
  add(
    "unknown field",
    "Set whose Value has field 7",
    "Set",
    setBytes("k", Buffer.concat([ok, varint(7, 1)])),
  );
  add(
    "unknown field",
    "SetMap whose Struct entry has field 3",
    "SetMap",
    ld(1, ld(1, Buffer.concat([ld(1, "k"), ld(2, ok), varint(3, 1)]))),
  );
  add("unknown field", "IncrementRequest whose key is a varint", "Increment", varint(1, 7));

  // Invalid UTF-8 in every kind of string the API takes.
  INVALID_UTF8.forEach((bad, i) => {
    const hex = bad.toString("hex");
    add("invalid UTF-8", `Set key ${hex}`, "Set", setBytes(bad, ok));
    if (i % 2 === 0)
      add("invalid UTF-8", `Set string value ${hex}`, "Set", setBytes("k", stringValue(bad)));
    else add("invalid UTF-8", `SetMap key ${hex}`, "SetMap", setMapBytes([[bad, ok]]));
  });
  add("invalid UTF-8", "Get key ff fe", "Get", ld(1, INVALID_UTF8[0]));
  add("invalid UTF-8", "Remove key c3 28", "Remove", ld(1, INVALID_UTF8[1]));
  add(
    "invalid UTF-8",
    "Increment key ed a0 80",
    "Increment",
    Buffer.concat([ld(1, INVALID_UTF8[2]), double(2, 1)]),
  );
  return out;
}
