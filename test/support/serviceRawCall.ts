import assert from "node:assert/strict";
import {
  type Client,
  Metadata,
  makeGenericClientConstructor,
  type ServiceError,
  type status,
} from "@grpc/grpc-js";

export interface CallOutcome<Res> {
  response: Res | undefined;
  error: ServiceError | undefined;
  /** Response headers; undefined for a trailers-only response. */
  headers: Metadata | undefined;
  trailers: Metadata | undefined;
}

export interface RawCallOptions {
  /** Sent as `key` metadata (default key x-session-id). */
  id?: string;
  key?: string;
  metadata?: Metadata;
  deadlineMs?: number;
}

type UnaryMethod = (
  req: unknown,
  md: Metadata,
  options: { deadline: number },
  cb: (err: ServiceError | null, res: unknown) => void,
) => { on(event: string, fn: (arg: never) => void): unknown };

/**
 * One unary call through a generated (or generic) client, keeping everything a test may
 * look at: response or error, headers and trailers. Resolves once the status arrived.
 */
export function rawCall<Res>(
  client: Client,
  method: string,
  request: unknown,
  options: RawCallOptions = {},
): Promise<CallOutcome<Res>> {
  const metadata = options.metadata ?? new Metadata();
  if (options.id !== undefined) metadata.set(options.key ?? "x-session-id", options.id);
  const fn = (client as unknown as Record<string, UnaryMethod>)[method];
  assert.ok(fn, `client has no method ${method}`);
  return new Promise((resolve) => {
    const outcome: CallOutcome<Res> = {
      response: undefined,
      error: undefined,
      headers: undefined,
      trailers: undefined,
    };
    const deadline = Date.now() + (options.deadlineMs ?? 5000);
    const call = fn.call(client, request, metadata, { deadline }, (err, res) => {
      if (err) outcome.error = err;
      else outcome.response = res as Res;
    });
    call.on("metadata", (md: Metadata) => {
      outcome.headers = md;
    });
    call.on("status", (st: { metadata: Metadata }) => {
      outcome.trailers = st.metadata;
      resolve(outcome);
    });
  });
}

/** The response of a call that must have succeeded. */
export function ok<Res>(outcome: CallOutcome<Res>): Res {
  assert.equal(outcome.error, undefined, `unexpected error: ${outcome.error?.message}`);
  assert.ok(outcome.response !== undefined);
  return outcome.response;
}

/** Asserts the call failed with `code` (and a message matching `message`). */
export function failed(
  outcome: CallOutcome<unknown>,
  code: status,
  message?: RegExp,
): ServiceError {
  assert.ok(outcome.error, `expected status ${code}, got a response`);
  assert.equal(outcome.error.code, code, `status ${outcome.error.code}: ${outcome.error.details}`);
  if (message) assert.match(outcome.error.details, message);
  assert.doesNotMatch(outcome.error.details, /\n\s+at /, "a stack trace reached the wire");
  return outcome.error;
}

/** The session id in the response headers (or trailers), if any. */
export function returnedId(
  outcome: CallOutcome<unknown>,
  key = "x-session-id",
): string | undefined {
  const fromHeaders = outcome.headers?.get(key)[0];
  const value = fromHeaders ?? outcome.trailers?.get(key)[0];
  return typeof value === "string" ? value : undefined;
}

/**
 * A client constructor whose methods (lower-camel names of `methods`) send and receive
 * SessionService messages as raw bytes, for requests the generated encoder cannot produce.
 */
export function rawBytesClient(methods: readonly string[]) {
  const raw = (method: string) => ({
    path: `/sessiond.v1.SessionService/${method}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  });
  return makeGenericClientConstructor(
    Object.fromEntries(methods.map((m) => [m[0]?.toLowerCase() + m.slice(1), raw(m)])),
    "sessiond.v1.SessionService",
  );
}
