// The RPCs the bench drives, with the request h2load sends for each and the check a real
// grpc-js client makes before the load (h2load counts any HTTP 200 as success, including
// a gRPC error carried in the trailers).
import { deepStrictEqual } from "node:assert/strict";
import {
  GetDataRequest,
  GetDataResponse,
  GetRequest,
  GetResponse,
  IncrementRequest,
  SetRequest,
} from "../../src/gen/sessiond/v1/session.js";
import { type Client, call } from "./grpcClient.js";
import {
  readKey,
  type SampleSession,
  SHAPES,
  type Shape,
  sessionData,
  sessionValue,
} from "./population.js";

export type OpName = "Get" | "Set" | "GetData" | "Increment";

export interface Operation {
  name: OpName;
  /** Method name on the generated client. */
  method: string;
  path: string;
  /** Writes go to sessions that reads never use, so read answers stay exact. */
  role: "read" | "write";
  /** The request h2load sends (as a message object for the grpc-js client). */
  request(shape: Shape): object;
  /** The same request, protobuf-encoded. */
  encode(shape: Shape): Uint8Array;
  /**
   * Calls once on `session` and throws unless the answer is right. For reads returns the
   * size of the response gRPC frame, which then must match h2load's received bytes exactly.
   */
  check(client: Client, session: SampleSession): Promise<number | undefined>;
}

/** The value Set writes: as long as the key's original value, so sizes stay put. */
export function setValue(shape: Shape): string {
  return sessionValue(999_999_999, 0, SHAPES[shape].valueChars);
}

export const INCREMENT_KEY = "hits";

const get: Operation = {
  name: "Get",
  method: "get",
  path: "/sessiond.v1.SessionService/Get",
  role: "read",
  request: (shape) => ({ key: readKey(shape) }),
  encode: (shape) => GetRequest.encode({ key: readKey(shape) }).finish(),
  async check(client, s) {
    const key = readKey(s.shape);
    const res = await call<GetResponse>(client, "get", { key }, s.id);
    const want = sessionData(s.index, s.shape)[key];
    if (!res.found || res.value !== want) {
      throw new Error(`Get ${key}: expected ${JSON.stringify(want)}, got ${JSON.stringify(res)}`);
    }
    return 5 + GetResponse.encode(res).finish().length;
  },
};

const getData: Operation = {
  name: "GetData",
  method: "getData",
  path: "/sessiond.v1.SessionService/GetData",
  role: "read",
  request: () => ({}),
  encode: () => GetDataRequest.encode({}).finish(),
  async check(client, s) {
    const res = await call<GetDataResponse>(client, "getData", {}, s.id);
    deepStrictEqual({ ...res.data }, sessionData(s.index, s.shape), "GetData returned other data");
    return 5 + GetDataResponse.encode(res).finish().length;
  },
};

const set: Operation = {
  name: "Set",
  method: "set",
  path: "/sessiond.v1.SessionService/Set",
  role: "write",
  request: (shape) => ({ key: "k0", value: setValue(shape) }),
  encode: (shape) => SetRequest.encode({ key: "k0", value: setValue(shape) }).finish(),
  async check(client, s) {
    await call(client, "set", { key: "k0", value: setValue(s.shape) }, s.id);
    const res = await call<GetResponse>(client, "get", { key: "k0" }, s.id);
    if (res.value !== setValue(s.shape)) throw new Error("Set: the value read back differs");
    return undefined;
  },
};

const increment: Operation = {
  name: "Increment",
  method: "increment",
  path: "/sessiond.v1.SessionService/Increment",
  role: "write",
  request: () => ({ key: INCREMENT_KEY, delta: 1 }),
  encode: () => IncrementRequest.encode({ key: INCREMENT_KEY, delta: 1 }).finish(),
  async check(client, s) {
    const before = await call<GetResponse>(client, "get", { key: INCREMENT_KEY }, s.id);
    const start = before.found ? Number(before.value) : 0;
    const res = await call<{ value: number }>(
      client,
      "increment",
      { key: INCREMENT_KEY, delta: 1 },
      s.id,
    );
    if (res.value !== start + 1) throw new Error(`Increment: ${start} + 1 gave ${res.value}`);
    return undefined;
  },
};

export const OPERATIONS: Record<OpName, Operation> = {
  Get: get,
  GetData: getData,
  Set: set,
  Increment: increment,
};
