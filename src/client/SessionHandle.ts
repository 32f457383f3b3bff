import { randomBytes } from "node:crypto";
import { type ClientUnaryCall, Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { JsonValue, SessionData } from "../core/json.js";
import { assertSendableData, assertSendableKey, assertSendableValue } from "./assertSendable.js";
import { reasonOf, type SessionErrorInfo } from "./reasonOf.js";
import type { SessionClient } from "./SessionClient.js";

export interface CallOptions {
  /** This call's deadline, overriding the client's default. */
  deadlineMs?: number;
}

export interface IdempotentOptions extends CallOptions {
  /**
   * The write's request_id. Default: a fresh random 128-bit one per call, which the SDK
   * reuses for its own retries of this call. Pass your own to retry across calls (or
   * processes) yourself: it must stay unguessable.
   */
  requestId?: string;
}

export interface WriteOptions extends IdempotentOptions {
  /** Apply only if the session is at this version (0 = must not exist yet); else ABORTED. */
  expectedVersion?: number | bigint;
}

export interface WriteResult {
  sessionId: string;
  version: number;
}

export interface SessionDescription {
  sessionId: string;
  version: number;
  size: number;
  createTime: Date;
  expireTime: Date;
  /** First creation + the server's max lifetime; undefined when it has none. */
  lifetimeEndTime?: Date;
}

/**
 * How a SessionHandle call fails: grpc-js's ServiceError (`code` is the gRPC status,
 * `details` the message), plus what the status details say: `reason` to branch on (see
 * the table in docs/clients.md; undefined when the server sent none), `domain` and `errorInfo`.
 */
export interface SessionCallError extends ServiceError {
  reason: SessionErrorInfo["reason"] | undefined;
  domain: string | undefined;
  errorInfo: SessionErrorInfo | undefined;
}

type Callback<Res> = (err: ServiceError | null, res: Res) => void;
type Unary<Req, Res> = (
  req: Req,
  md: Metadata,
  options: { deadline: number },
  cb: Callback<Res>,
) => ClientUnaryCall;

/**
 * One session seen from a client. Sends its id with every call and adopts the id the
 * server returns in response metadata (when a write created the session, or an unknown
 * id was replaced, or Regenerate ran). Versions are plain numbers here (uint64 on the
 * wire; they never come near 2^53).
 *
 * While the handle has no id, calls wait for a write already in flight, so two first
 * writes through one handle land in one session instead of creating two.
 */
export class SessionHandle {
  readonly #client: SessionClient;
  #id: string | undefined;
  /** The first write, while it runs without an id; never rejects. */
  #creating: Promise<void> | undefined;

  constructor(client: SessionClient, id?: string) {
    this.#client = client;
    this.#id = id;
  }

  /** The session id, once there is one. */
  get id(): string | undefined {
    return this.#id;
  }

  /** The value of `key`, or undefined when the key (or the session) does not exist. */
  async get(key: string, options?: CallOptions): Promise<JsonValue | undefined> {
    assertSendableKey(key);
    const res = await this.#call(this.#raw.get, { key }, options);
    return res.found ? (res.value as JsonValue) : undefined;
  }

  async getData(options?: CallOptions): Promise<SessionData> {
    const res = await this.#call(this.#raw.getData, {}, options);
    return (res.data ?? {}) as SessionData;
  }

  async contains(key: string, options?: CallOptions): Promise<boolean> {
    assertSendableKey(key);
    return (await this.#call(this.#raw.contains, { key }, options)).found;
  }

  async size(options?: CallOptions): Promise<number> {
    return (await this.#call(this.#raw.size, {}, options)).size;
  }

  async set(key: string, value: JsonValue, options?: WriteOptions): Promise<WriteResult> {
    assertSendableValue(key, value);
    const req = { key, value, expectedVersion: version(options), requestId: requestId(options) };
    return written(await this.#call(this.#raw.set, req, options, true));
  }

  async setMap(data: SessionData, options?: WriteOptions): Promise<WriteResult> {
    assertSendableData(data);
    const req = { data, expectedVersion: version(options), requestId: requestId(options) };
    return written(await this.#call(this.#raw.setMap, req, options, true));
  }

  /** Removes keys; on a session that does not exist this is a no-op at version 0. */
  async remove(keys: string | string[], options?: WriteOptions): Promise<{ version: number }> {
    const req = {
      keys: Array.isArray(keys) ? keys : [keys],
      expectedVersion: version(options),
      requestId: requestId(options),
    };
    for (const key of req.keys) assertSendableKey(key);
    const res = await this.#call(this.#raw.remove, req, options);
    return { version: Number(res.version) };
  }

  /** Deletes the session (logout). The handle forgets the id: the next write starts anew. */
  async removeAll(options?: IdempotentOptions): Promise<void> {
    await this.#call(this.#raw.removeAll, { requestId: requestId(options) }, options);
    this.#id = undefined;
  }

  /** Slides the expiry; returns the new expiry time. NOT_FOUND without a session. */
  async touch(options?: IdempotentOptions): Promise<Date> {
    const res = await this.#call(this.#raw.touch, { requestId: requestId(options) }, options);
    return res.expireTime ?? new Date(0);
  }

  /** Moves the data to a new id, which the handle adopts. NOT_FOUND without a session. */
  async regenerate(options: IdempotentOptions & { keepOld?: boolean } = {}): Promise<WriteResult> {
    const req = { keepOld: options.keepOld ?? false, requestId: requestId(options) };
    return written(await this.#call(this.#raw.regenerate, req, options));
  }

  /** NOT_FOUND without a session. */
  async describe(options?: CallOptions): Promise<SessionDescription> {
    const res = await this.#call(this.#raw.describe, {}, options);
    return {
      sessionId: res.sessionId,
      version: Number(res.version),
      size: res.size,
      createTime: res.createTime ?? new Date(0),
      expireTime: res.expireTime ?? new Date(0),
      lifetimeEndTime: res.lifetimeEndTime,
    };
  }

  /** Adds `delta` (default 1) to a numeric key, absent counting as 0; returns the result. */
  async increment(
    key: string,
    delta = 1,
    options?: WriteOptions,
  ): Promise<WriteResult & { value: number }> {
    assertSendableKey(key);
    const req = { key, delta, expectedVersion: version(options), requestId: requestId(options) };
    const res = await this.#call(this.#raw.increment, req, options, true);
    return { ...written(res), value: res.value };
  }

  get #raw() {
    return this.#client.raw;
  }

  async #call<Req, Res>(
    method: Unary<Req, Res>,
    req: Req,
    options: CallOptions | undefined,
    creates = false,
  ): Promise<Res> {
    while (this.#id === undefined && this.#creating !== undefined) await this.#creating;
    const sent = this.#send(method, req, options);
    if (creates && this.#id === undefined) {
      const creating = sent.then(
        () => {},
        () => {},
      );
      this.#creating = creating;
      // Registered before any waiter's reaction, so waiters see it cleared.
      void creating.then(() => {
        if (this.#creating === creating) this.#creating = undefined;
      });
    }
    return sent;
  }

  /**
   * One call. A write (its request carries a request_id) that fails UNAVAILABLE is sent
   * again, same id and same request, with backoff, while the deadline leaves room: the
   * server answers a retry of an applied write with its first outcome.
   */
  async #send<Req, Res>(
    method: Unary<Req, Res>,
    req: Req,
    options: CallOptions | undefined,
  ): Promise<Res> {
    const deadline = Date.now() + (options?.deadlineMs ?? this.#client.deadlineMs);
    const idempotent = (req as { requestId?: string }).requestId !== undefined;
    // The session id as this call started: a retry is the same request.
    const id = this.#id;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#attempt(method, req, id, deadline);
      } catch (err) {
        const backoff = RETRY_BASE_MS * 2 ** (attempt - 1) * (0.5 + Math.random() / 2);
        const retry =
          idempotent &&
          attempt < RETRY_ATTEMPTS &&
          (err as ServiceError).code === status.UNAVAILABLE &&
          Date.now() + backoff < deadline;
        if (!retry) throw err;
        await new Promise((resolve) => setTimeout(resolve, backoff));
      }
    }
  }

  #attempt<Req, Res>(
    method: Unary<Req, Res>,
    req: Req,
    id: string | undefined,
    deadline: number,
  ): Promise<Res> {
    const key = this.#client.metadataKey;
    const metadata = new Metadata();
    if (id !== undefined) metadata.set(key, id);
    return new Promise<Res>((resolve, reject) => {
      const call = method.call(this.#raw, req, metadata, { deadline }, (err, res) =>
        err ? reject(withReason(err)) : resolve(res),
      );
      // The id rides in headers, or in trailers when the server learned it late.
      call.on("metadata", (md: Metadata) => this.#learn(md, key));
      call.on("status", (st: { metadata?: Metadata }) => {
        if (st.metadata) this.#learn(st.metadata, key);
      });
    });
  }

  #learn(md: Metadata, key: string): void {
    const id = md.get(key)[0];
    if (typeof id === "string" && id !== "") this.#id = id;
  }
}

/** The error with its ErrorInfo read out: callers branch on `reason`, not the message. */
function withReason(err: ServiceError): SessionCallError {
  const errorInfo = reasonOf(err);
  return Object.assign(err, {
    reason: errorInfo?.reason,
    domain: errorInfo?.domain,
    errorInfo,
  });
}

/** Attempts of one write call that fails UNAVAILABLE, and the first backoff (doubling). */
const RETRY_ATTEMPTS = 4;
const RETRY_BASE_MS = 25;

function requestId(options: IdempotentOptions | undefined): string {
  return options?.requestId ?? randomBytes(16).toString("base64url");
}

function version(options: WriteOptions | undefined): bigint | undefined {
  const v = options?.expectedVersion;
  return v === undefined ? undefined : BigInt(v);
}

function written(res: { sessionId: string; version: bigint }): WriteResult {
  return { sessionId: res.sessionId, version: Number(res.version) };
}
