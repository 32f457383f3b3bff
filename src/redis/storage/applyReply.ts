import { assignKey } from "../../core/json.js";
import type { Limits } from "../../core/Limits.js";
import { type Refusal, refusalError, type ValueKind } from "../../core/Refusal.js";
import { SessionError } from "../../core/SessionError.js";
import { reusedRequestId } from "../../core/storage/requestRecords.js";
import type { ApplyResult, Replay, SessionMeta } from "../../core/storage/Storage.js";

/**
 * A write script's reply without its request-record wrapping (see ../lua/lib/idempotency.lua): the
 * reply itself and, when it was answered from a record, the Replay marker. A request id
 * reused for another request throws already_exists.
 */
export function unwrapReplay(reply: unknown): [unknown, Replay | undefined] {
  if (!Array.isArray(reply)) return [reply, undefined];
  if (reply[0] === "reused") throw reusedRequestId();
  if (reply[0] !== "replayed") return [reply, undefined];
  const sealed = reply[1];
  const replay: Replay = { replayed: true };
  if (typeof sealed === "string" && sealed !== "") replay.sealedId = sealed;
  return [reply.slice(2), replay];
}

/**
 * Turns an apply script's reply into the result, or throws the refusal it reports: the
 * script replies a tag and numbers or keys (see ../lua/lib/apply_ops.lua), never a message, and
 * refusalOf reads them into the same Refusal the in-process storages decide.
 */
export function applyReply(
  wrapped: unknown,
  expected: number | undefined,
  limits: Limits,
): ApplyResult | undefined {
  const [reply, replay] = unwrapReplay(wrapped);
  const result = resultOf(reply, expected, limits);
  if (replay === undefined || result === undefined) return result;
  return { ...result, ...replay };
}

function resultOf(
  reply: unknown,
  expected: number | undefined,
  limits: Limits,
): ApplyResult | undefined {
  if (!Array.isArray(reply) || typeof reply[0] !== "string") throw unexpected(reply);
  const [tag, ...rest] = reply as [string, ...string[]];
  if (tag === "skip") return undefined;
  if (tag !== "ok") {
    const refusal = refusalOf(tag, rest, expected, limits);
    throw refusal === undefined ? unexpected(reply) : refusalError(refusal);
  }
  const [version, createTime, expireTime, ...inc] = rest;
  const incremented: Record<string, number> = {};
  for (let i = 0; i + 1 < inc.length; i += 2) {
    assignKey(incremented, inc[i] as string, Number(inc[i + 1]));
  }
  return {
    version: Number(version),
    createTime: Number(createTime),
    expireTime: Number(expireTime),
    incremented,
  };
}

/**
 * A refusal tag and its data. The limits and the expected version are the request's own:
 * a request record replays only for the same request, so they are the ones it was refused by.
 */
function refusalOf(
  tag: string,
  [a, b]: string[],
  expected: number | undefined,
  limits: Limits,
): Refusal | undefined {
  switch (tag) {
    case "aborted":
      return expected === undefined ? undefined : { kind: "version", expected, actual: Number(a) };
    case "notnumber":
      return a === undefined || b === undefined
        ? undefined
        : { kind: "notNumber", key: a, holds: kindOfText(b) };
    case "overflow":
      return a === undefined ? undefined : { kind: "overflow", key: a };
    case "keys":
      return { kind: "tooManyKeys", keys: Number(a), maxKeys: limits.maxKeys };
    case "bytes":
      return {
        kind: "tooManyBytes",
        bytes: Number(a),
        maxSessionBytes: limits.maxSessionBytes,
      };
  }
  return undefined;
}

const KINDS: ReadonlySet<string> = new Set<ValueKind>([
  "string",
  "boolean",
  "object",
  "array",
  "null",
]);

/**
 * The script names the kind; a request record written before it did holds the value's
 * JSON text instead, whose first character tells the kind just as well.
 */
function kindOfText(text: string): ValueKind {
  if (KINDS.has(text)) return text as ValueKind;
  switch (text[0]) {
    case '"':
      return "string";
    case "t":
    case "f":
      return "boolean";
    case "[":
      return "array";
    case "n":
      return "null";
  }
  return "object";
}

function unexpected(reply: unknown): SessionError {
  return new SessionError("internal", "internal error", {
    cause: new Error(`unexpected apply reply ${JSON.stringify(reply)}`),
  });
}

/** A script's {version, createTime, expireTime} reply (a touch's, a slide's) as numbers. */
export function metaReply(reply: unknown): SessionMeta {
  const [version, createTime, expireTime] = reply as [string, string, string];
  return {
    version: Number(version),
    createTime: Number(createTime),
    expireTime: Number(expireTime),
  };
}
