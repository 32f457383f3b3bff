import { checkSessionSize, type Limits } from "../core/Limits.js";
import { SessionError } from "../core/SessionError.js";
import { incrementValue } from "../core/storage/applyOps.js";
import { reusedRequestId } from "../core/storage/requestRecords.js";
import type { ApplyResult, Replay } from "../core/storage/Storage.js";

/**
 * A write script's reply without its request-record wrapping (see luaIdempotency): the
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
 * Turns an apply script's reply into the result, or the same error (code and wording)
 * the in-process storages raise: the script returns a tag and the numbers, and the
 * message is built here from the shared helpers so every storage words it alike.
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
  if (!Array.isArray(reply) || typeof reply[0] !== "string") {
    throw new SessionError("internal", "internal error", {
      cause: new Error(`unexpected apply reply ${JSON.stringify(reply)}`),
    });
  }
  const [tag, ...rest] = reply as [string, ...string[]];
  switch (tag) {
    case "ok": {
      const [version, createTime, expireTime, ...inc] = rest;
      const incremented: Record<string, number> = {};
      for (let i = 0; i + 1 < inc.length; i += 2) {
        Object.defineProperty(incremented, inc[i] as string, {
          value: Number(inc[i + 1]),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return {
        version: Number(version),
        createTime: Number(createTime),
        expireTime: Number(expireTime),
        incremented,
      };
    }
    case "skip":
      return undefined;
    case "aborted":
      throw new SessionError(
        "aborted",
        `version mismatch: expected ${expected}, session is at ${rest[0]}`,
      );
    case "notnumber": {
      const [key, text] = rest as [string, string];
      incrementValue(JSON.parse(text), key, 0);
      break;
    }
    case "overflow":
      throw new SessionError("failed_precondition", `incrementing key "${rest[0]}" would overflow`);
    case "keys":
      checkSessionSize(Number(rest[0]), 0, limits);
      break;
    case "bytes":
      checkSessionSize(0, Number(rest[0]), limits);
      break;
  }
  throw new SessionError("internal", "internal error", {
    cause: new Error(`unexpected apply reply ${JSON.stringify(reply)}`),
  });
}
