import { status } from "@grpc/grpc-js";
import { type Leeway, type Problem, RESET, wire } from "./expectation.js";
import type { Rng } from "./Rng.js";

/** Which session a call names: the control session, none that exists, or an id refused on sight. */
export type Aim = "control" | "fresh" | "malformed";

export interface GenMetadata {
  headers: Record<string, string | string[]>;
  aim: Aim;
  /** The id sent, when one valid id was sent. */
  sentId?: string;
  problems: Problem[];
  leeway: Leeway[];
  label: string;
}

const KEY = "x-session-id";

/** A well-formed id no session has, from the case's own generator (so the case replays). */
function randomId(rng: Rng): string {
  let out = "";
  for (let i = 0; i < 32; i++) out += "0123456789abcdefghijklmnopqrstuvwxyz"[rng.int(36)];
  return out;
}

/**
 * The `x-session-id` entry in every shape: the control session's id, an unknown valid id,
 * none, a cookie, 31/33 characters, uppercase, path tricks, whitespace, bytes above 0x7f,
 * very long, empty, and several entries. (node:http2 refuses to send NUL, CR and LF in a
 * header value, so those never reach the server and are not generated.)
 */
export function genMetadata(rng: Rng, controlId: string): GenMetadata {
  const shape = rng.weighted<string>([
    [52, "control"],
    [9, "unknown"],
    [8, "none"],
    [3, "cookie"],
    [28, "malformed"],
  ]);
  if (shape === "control") return ok({ [KEY]: controlId }, "control", controlId, "id=control");
  if (shape === "unknown") {
    const id = randomId(rng);
    return ok({ [KEY]: id }, "fresh", id, "id=unknown-valid");
  }
  if (shape === "none") return ok({}, "fresh", undefined, "id=none");
  if (shape === "cookie") {
    const form = rng.pick(["plain", "quoted", "amongOthers", "empty", "malformed"]);
    const value = {
      plain: `${KEY}=${controlId}`,
      quoted: `${KEY}="${controlId}"`,
      amongOthers: `a=1; ${KEY}=${controlId}; b=2`,
      empty: `${KEY}=`,
      malformed: `${KEY}=../${controlId.slice(3)}`,
    }[form] as string;
    const label = `cookie:${form}`;
    if (form === "malformed") return bad({ cookie: value }, label);
    if (form === "empty") return ok({ cookie: value }, "fresh", undefined, label);
    return ok({ cookie: value }, "control", controlId, label);
  }
  return malformed(rng, controlId);
}

function ok(
  headers: Record<string, string | string[]>,
  aim: Aim,
  sentId: string | undefined,
  label: string,
): GenMetadata {
  return { headers, aim, sentId, problems: [], leeway: [], label };
}

function bad(
  headers: Record<string, string | string[]>,
  label: string,
  leeway: Leeway[] = [],
): GenMetadata {
  return {
    headers,
    aim: "malformed",
    problems: [wire(`malformed session id (${label})`)],
    leeway,
    label,
  };
}

/**
 * An entry sessiond never sees: Node's HTTP/2 layer drops a value with leading or trailing
 * whitespace, and grpc-js drops (and logs) one with a byte outside printable ASCII. The
 * call then acts as one without an id; INVALID_ARGUMENT would be better, and is allowed.
 */
function dropped(headers: Record<string, string | string[]>, label: string): GenMetadata {
  return {
    headers,
    aim: "fresh",
    problems: [],
    leeway: [
      { code: status.INVALID_ARGUMENT, why: `malformed id (${label}) dropped before sessiond` },
    ],
    label: `${label}(dropped by the transport)`,
  };
}

function malformed(rng: Rng, id: string): GenMetadata {
  const at = rng.range(1, 30);
  const form = rng.pick([
    "31chars",
    "33chars",
    "uppercase",
    "dotdot",
    "slash",
    "backslash",
    "space",
    "tab",
    "latin1",
    "percent",
    "empty",
    "twoSame",
    "twoDifferent",
    "commaJoined",
    "long",
    "veryLong",
    "leadingSpace",
    "trailingSpace",
    "cookieAndBadEntry",
  ]);
  const label = `id=${form}`;
  switch (form) {
    case "31chars":
      return bad({ [KEY]: id.slice(0, 31) }, label);
    case "33chars":
      return bad({ [KEY]: `${id}a` }, label);
    case "uppercase":
      return bad(
        {
          [KEY]: `${id.slice(0, at)}${id[at]?.toUpperCase() === id[at] ? "Z" : id[at]?.toUpperCase()}${id.slice(at + 1)}`,
        },
        label,
      );
    case "dotdot":
      return bad({ [KEY]: `../${id.slice(3)}` }, label);
    case "slash":
      return bad({ [KEY]: `${id.slice(0, at)}/${id.slice(at + 1)}` }, label);
    case "backslash":
      return bad({ [KEY]: `${id.slice(0, at)}\\${id.slice(at + 1)}` }, label);
    case "space":
      return bad({ [KEY]: `${id.slice(0, at)} ${id.slice(at + 1)}` }, label);
    case "tab":
      return dropped({ [KEY]: `${id.slice(0, at)}\t${id.slice(at + 1)}` }, label);
    case "latin1":
      return dropped({ [KEY]: `${id.slice(0, at)}é${id.slice(at + 1)}` }, label);
    case "percent":
      return bad({ [KEY]: `%2e%2e%2f${id.slice(9)}` }, label);
    case "empty":
      return bad({ [KEY]: "" }, label);
    case "twoSame":
      return bad({ [KEY]: [id, id] }, label);
    case "twoDifferent":
      return bad({ [KEY]: [id, randomId(rng)] }, label);
    case "commaJoined":
      return bad({ [KEY]: `${id},${id}` }, label);
    case "long":
      return bad({ [KEY]: id.repeat(rng.pick([2, 10, 100])) }, label);
    case "veryLong":
      // Past the HTTP/2 header list limits: the server may refuse the stream itself.
      return bad({ [KEY]: "a".repeat(rng.pick([9000, 20000, 100000])) }, label, [
        { code: status.RESOURCE_EXHAUSTED, why: "metadata over the header size limit" },
        { code: status.INTERNAL, why: "metadata over the header size limit" },
        { code: RESET, why: "headers over the HTTP/2 header list limit" },
      ]);
    case "leadingSpace":
      return dropped({ [KEY]: ` ${id}` }, label);
    case "trailingSpace":
      return dropped({ [KEY]: `${id} ` }, label);
    default:
      return bad({ [KEY]: `${id.slice(0, 31)}`, cookie: `${KEY}=${id}` }, label);
  }
}
