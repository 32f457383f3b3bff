import { status } from "@grpc/grpc-js";
import { isValidSessionId } from "../../src/core/session/ids.js";
import { codeName, RESET } from "./expectation.js";
import type { Expect } from "./generateCase.js";
import { describeOutcome, type Outcome } from "./h2Call.js";
import { canonical, type Data, shortJson } from "./jsonModel.js";
import type { Seen } from "./Probe.js";

/** The properties every case is checked against; a failure names one of them. */
export const PROPERTY = {
  alive: "the server process never exits",
  status: "every status is in the documented set for the request",
  unchanged: "a rejected request changes nothing",
  effect: "an accepted request does exactly what it says",
  files: "no file is created outside the storage directory",
  race: "concurrent requests lose no acknowledged write",
} as const;
export type Property = (typeof PROPERTY)[keyof typeof PROPERTY];

export interface Violation {
  property: Property;
  detail: string;
}

/** The status check: the answer is one the request allows, and never sessiond's own INTERNAL. */
export function checkStatus(outcome: Outcome, expect: Expect): Violation | undefined {
  const allowed = () =>
    [
      ...[...expect.codes].map(codeName),
      ...[...expect.http].map((h) => `HTTP ${h}`),
      ...(expect.cancelled ? ["cancelled"] : []),
    ].join("|");
  const because = expect.why.length > 0 ? `; the request: ${expect.why.join("; ")}` : "";
  const fail = (detail: string): Violation => ({ property: PROPERTY.status, detail });
  switch (outcome.kind) {
    case "status":
      if (outcome.code === status.INTERNAL && outcome.message === "internal error") {
        return fail(`sessiond answered INTERNAL "internal error" (an unexpected throw)${because}`);
      }
      if (/\n\s+at /.test(outcome.message))
        return fail(`a stack trace reached the wire: ${outcome.message}`);
      if (!expect.codes.has(outcome.code)) {
        return fail(
          `got ${codeName(outcome.code)} "${outcome.message.slice(0, 200)}", allowed ${allowed()}${because}`,
        );
      }
      return undefined;
    case "http":
      return expect.http.has(outcome.httpStatus)
        ? undefined
        : fail(
            `got HTTP ${outcome.httpStatus} without grpc-status, allowed ${allowed()}${because}`,
          );
    case "reset":
      return expect.codes.has(RESET)
        ? undefined
        : fail(`got ${describeOutcome(outcome)}, allowed ${allowed()}${because}`);
    case "cancelled":
      return expect.cancelled ? undefined : fail(`the stream was cancelled, allowed ${allowed()}`);
    default:
      return fail(`${describeOutcome(outcome)} (every request must be answered)`);
  }
}

/** The control session, looked at after the case, is exactly as it was before. */
export function checkUnchanged(
  before: { id: string; version: number; data: Data },
  after: Seen,
  what: string,
): Violation | undefined {
  if (!after.exists) {
    return { property: PROPERTY.unchanged, detail: `${what}: the control session is gone` };
  }
  if (after.version !== before.version) {
    return {
      property: PROPERTY.unchanged,
      detail: `${what}: version ${before.version} → ${after.version}`,
    };
  }
  if (canonical(after.data) !== canonical(before.data)) {
    return {
      property: PROPERTY.unchanged,
      detail: `${what}: data ${shortJson(before.data, 200)} → ${shortJson(after.data, 200)}`,
    };
  }
  return undefined;
}

export function sameData(want: Data, got: Data): string | undefined {
  const a = canonical(want);
  const b = canonical(got);
  if (a === b) return undefined;
  return `want ${shortJson(want, 300)}, got ${shortJson(got, 300)}${firstDifference(want, got)}`;
}

function firstDifference(want: Data, got: Data): string {
  for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) {
    const w = Object.hasOwn(want, k) ? canonical(want[k]) : "(absent)";
    const g = Object.hasOwn(got, k) ? canonical(got[k]) : "(absent)";
    if (w !== g)
      return ` (first difference at key ${JSON.stringify(k)}: want ${w.slice(0, 120)}, got ${g.slice(0, 120)})`;
  }
  return "";
}

/** The id a response issued, from its headers or trailers. */
export function issuedId(outcome: Outcome): string | undefined {
  if (outcome.kind !== "status") return undefined;
  const v = outcome.headers["x-session-id"] ?? outcome.trailers["x-session-id"];
  const id = Array.isArray(v) ? v[0] : v;
  return typeof id === "string" ? id : undefined;
}

export function validNewId(id: string | undefined, sent: string | undefined): string | undefined {
  if (id === undefined) return "no x-session-id in the response metadata";
  if (!isValidSessionId(id)) return `issued id ${JSON.stringify(id)} is malformed`;
  if (id === sent) return "the server adopted the id the caller sent";
  return undefined;
}
