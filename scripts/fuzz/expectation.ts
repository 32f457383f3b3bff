import { status } from "@grpc/grpc-js";

/**
 * What the generator knows is wrong with a request, and therefore which statuses may
 * answer it. `wire` problems (malformed bytes, invalid UTF-8, duplicate or unknown fields,
 * a malformed id) are refused before any handler runs, so they admit INVALID_ARGUMENT only.
 * `input` problems (a bad key, a non-finite number, a value over its limit) and `state`
 * problems (a stale expected_version, a merged session over its limits, no session) are
 * found by the handler in an order the contract leaves open, so any of their codes may win.
 */
export interface Problem {
  stage: "wire" | "input" | "state";
  code: status;
  why: string;
}

/** An outcome the contract leaves open besides the one computed (e.g. a depth near the limit). */
export interface Leeway {
  /** A gRPC status, or RESET. */
  code: number;
  why: string;
}

export function wire(why: string): Problem {
  return { stage: "wire", code: status.INVALID_ARGUMENT, why };
}

export function input(code: status, why: string): Problem {
  return { stage: "input", code, why };
}

export function state(code: status, why: string): Problem {
  return { stage: "state", code, why };
}

/** The statuses that may answer a request with these problems. */
export function allowedCodes(problems: readonly Problem[], leeway: readonly Leeway[]): Set<number> {
  const out = new Set<number>();
  if (problems.some((p) => p.stage === "wire")) out.add(status.INVALID_ARGUMENT);
  else if (problems.length > 0) for (const p of problems) out.add(p.code);
  else out.add(status.OK);
  for (const l of leeway) out.add(l.code);
  return out;
}

/**
 * Not a gRPC status: the server reset the stream or closed the connection without one.
 * Allowed only where HTTP/2 itself may refuse the request (headers past its size limits).
 */
export const RESET = -1;

export function codeName(code: number): string {
  if (code === RESET) return "RESET";
  return status[code] ?? `code ${code}`;
}
