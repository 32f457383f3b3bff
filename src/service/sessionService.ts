import { type ServerUnaryCall, status } from "@grpc/grpc-js";
import { type JsonValue, ownValue, type SessionData } from "../core/json.js";
import { jsonLogger, type Logger } from "../core/Logger.js";
import { type ErrorCode, SessionError } from "../core/SessionError.js";
import type { Session } from "../core/session/Session.js";
import type { SessionServiceServer } from "../gen/sessiond/v1/session.js";
import { getSession } from "../grpc/getSession.js";
import { ServerError } from "../grpc/ServerError.js";
import { unaryHandler } from "../grpc/unaryHandler.js";
import { assertWellFormedRequest } from "../protocol/strictDeserialize.js";

export interface SessionServiceOptions {
  /** Where unexpected errors are logged with their stack. Default: JSON lines on stderr. */
  logger?: Logger;
  /**
   * Who sent a call, as the server's caller check found (the server passes one; see
   * CallerSecurity). Default: nothing identifies callers, every caller may do everything.
   */
  caller?: (call: ServerUnaryCall<unknown, unknown>) => CallerInfo | undefined;
}

/** A call's caller, as the service needs it. */
export interface CallerInfo {
  /**
   * Stable across the caller's calls (e.g. a token's digest); a request_id's outcome is
   * replayed to the same identity only. undefined: callers are not told apart.
   */
  readonly identity: string | undefined;
  /** The caller's scopes; undefined: unrestricted. */
  readonly scopes: ReadonlySet<string> | undefined;
}

/**
 * The sessiond.v1.SessionService handlers: thin translations between messages and the
 * Session of the call, which sessionInterceptor provides. Writes commit inside the handler
 * (so expected_version and the new version make it into the response); the interceptor
 * then only has to return a new id in the response metadata.
 *
 *   server.addService(sessionServiceDefinition, sessionServiceImplementation({ logger }))
 *
 * (The generated SessionServiceService works too, without the strict request checks and
 * without exact coding: it loses a "__proto__" key inside a Struct.)
 */
export function sessionServiceImplementation(
  options: SessionServiceOptions = {},
): SessionServiceServer {
  const h = { logger: options.logger ?? jsonLogger() };
  // Without a caller resolver no call is looked up: every caller is one, unrestricted.
  const resolve = options.caller;
  const callerOf = (call: ServerUnaryCall<unknown, unknown>): CallerInfo | undefined =>
    resolve === undefined ? undefined : resolve(call);
  /**
   * The call's Session, under the request's request_id when it has one. The method is part
   * of the fingerprint, so one id reused for another RPC is refused (ALREADY_EXISTS), and so
   * is the caller, so another caller presenting it is refused too and learns no outcome.
   */
  const idempotent = (
    call: ServerUnaryCall<{ requestId?: string | undefined }, unknown>,
    method: string,
  ): Session => {
    const session = getSession(call);
    const { requestId } = call.request;
    if (requestId !== undefined) {
      session.setRequestId(requestId, {
        scope: method,
        caller: callerOf(call as ServerUnaryCall<unknown, unknown>)?.identity,
      });
    }
    return session;
  };
  const rpc = <Req extends object, Res>(fn: (call: ServerUnaryCall<Req, Res>) => Promise<Res>) =>
    unaryHandler<Req, Res>((call) => {
      assertWellFormedRequest(call.request);
      if (resolve === undefined || mayRead(resolve(call as ServerUnaryCall<unknown, unknown>))) {
        return fn(call);
      }
      // A caller that may not read must not learn the stored state from a refusal either.
      return fn(call).catch((err: unknown) => {
        throw withheld(err);
      });
    }, h);
  return {
    get: rpc(async (call) => {
      const value = await getSession(call).get(call.request.key);
      return { value, found: value !== undefined };
    }),

    getData: rpc(async (call) => ({ data: await getSession(call).data() })),

    contains: rpc(async (call) => ({
      found: await getSession(call).contains(call.request.key),
    })),

    size: rpc(async (call) => ({ size: await getSession(call).size() })),

    set: rpc(async (call) => {
      const { key, value, expectedVersion } = call.request;
      const session = idempotent(call, "Set");
      if (value === undefined) {
        throw new SessionError(
          "invalid_argument",
          `Set of key "${key}" needs a value`,
          INVALID_REQUEST,
        );
      }
      session.set(key, value as JsonValue);
      return written(session, await commit(session, expectedVersion));
    }),

    setMap: rpc(async (call) => {
      const { data, expectedVersion } = call.request;
      if (data === undefined || Object.keys(data).length === 0) {
        throw new SessionError(
          "invalid_argument",
          "SetMap needs at least one key in data",
          INVALID_REQUEST,
        );
      }
      const session = idempotent(call, "SetMap");
      session.setMap(data as SessionData);
      return written(session, await commit(session, expectedVersion));
    }),

    remove: rpc(async (call) => {
      const { keys, expectedVersion } = call.request;
      if (keys.length === 0) {
        throw new SessionError(
          "invalid_argument",
          "Remove needs at least one key",
          INVALID_REQUEST,
        );
      }
      const session = idempotent(call, "Remove");
      session.removeKeys(keys);
      const result = await session.commit({ expectedVersion: toVersion(expectedVersion) });
      // Removing from a session that does not exist changes nothing and creates nothing:
      // it stays at version 0 (and a non-zero expected_version is ABORTED).
      return { version: BigInt(result?.version ?? 0) };
    }),

    removeAll: rpc(async (call) => {
      await idempotent(call, "RemoveAll").removeAll();
      return {};
    }),

    touch: rpc(async (call) => {
      const meta = await idempotent(call, "Touch").touch();
      return { expireTime: new Date(meta.expireTime) };
    }),

    regenerate: rpc(async (call) => {
      const session = idempotent(call, "Regenerate");
      const sessionId = await session.regenerate({ keepOld: call.request.keepOld });
      return { sessionId, version: BigInt(session.version ?? 1) };
    }),

    describe: rpc(async (call) => {
      const info = await getSession(call).describe();
      return {
        sessionId: info.id,
        version: BigInt(info.version),
        size: info.size,
        createTime: new Date(info.createTime),
        expireTime: new Date(info.expireTime),
        lifetimeEndTime:
          info.lifetimeEndTime === undefined ? undefined : new Date(info.lifetimeEndTime),
      };
    }),

    increment: rpc(async (call) => {
      // The server's caller check asks for both scopes already; this holds for any caller
      // resolver: the answer is the stored value, which a write-only caller may not read.
      if (!mayRead(callerOf(call as ServerUnaryCall<unknown, unknown>))) {
        throw new ServerError(
          status.PERMISSION_DENIED,
          `this token lacks the "read" scope that ${call.getPath().slice(1)} needs`,
        );
      }
      const { key, delta, expectedVersion } = call.request;
      const session = idempotent(call, "Increment");
      session.increment(key, delta);
      const result = await commit(session, expectedVersion);
      const { sessionId, version } = written(session, result);
      return { sessionId, version, value: ownValue(result.incremented, key) ?? 0 };
    }),
  };
}

function mayRead(caller: CallerInfo | undefined): boolean {
  return caller?.scopes === undefined || caller.scopes.has("read");
}

/**
 * Refusals whose messages describe the stored state (the version a session is at, what a
 * key holds, how many keys or bytes it has), worded without it for a caller that may not
 * read. The code stays, so a client still knows what happened and whether to retry.
 */
const WITHHELD: Partial<Record<ErrorCode, string>> = {
  aborted:
    "nothing was applied: the session is not at expected_version, or the write lost to concurrent writes (details are withheld from a caller without the read scope)",
  failed_precondition:
    "nothing was applied: the write does not fit the stored data (details are withheld from a caller without the read scope)",
  resource_exhausted:
    "nothing was applied: the write would exceed a limit (a value's size, the session's keys or bytes, the operations per request, or a storage budget; details are withheld from a caller without the read scope)",
};

/** The reason a refusal of the request message itself carries. */
const INVALID_REQUEST = { reason: "INVALID_REQUEST" } as const;

/**
 * Withheld errors carry no reason either: a reason (and its metadata: versions, sizes)
 * would tell the caller what the message withholds.
 */
function withheld(err: unknown): unknown {
  if (!(err instanceof SessionError)) return err;
  const message = WITHHELD[err.code];
  return message === undefined ? err : new SessionError(err.code, message);
}

async function commit(session: Session, expectedVersion: bigint | undefined) {
  const result = await session.commit({ expectedVersion: toVersion(expectedVersion) });
  // Every caller queued at least one op, so commit always applies something.
  if (result === undefined) throw new Error("commit applied nothing after a queued write");
  return result;
}

function written(session: Session, result: { version: number }) {
  return { sessionId: session.id ?? "", version: BigInt(result.version) };
}

/** uint64 on the wire; versions are far below 2^53, so a larger one is a caller's error. */
function toVersion(v: bigint | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new SessionError(
      "invalid_argument",
      `expected_version ${v} is out of range`,
      INVALID_REQUEST,
    );
  }
  return Number(v);
}
