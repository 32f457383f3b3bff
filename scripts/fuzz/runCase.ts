import { status } from "@grpc/grpc-js";
import type { CallCase, Control, FuzzCase, SocketCase } from "./generateCase.js";
import type { H2Connection, Outcome } from "./h2Call.js";
import { rawSocket } from "./h2Call.js";
import { canonical, decodeStruct, decodeValue } from "./jsonModel.js";
import type { Probe } from "./Probe.js";
import {
  checkStatus,
  checkUnchanged,
  issuedId,
  PROPERTY,
  sameData,
  type Violation,
  validNewId,
} from "./properties.js";
import { ResponseFields } from "./responseFields.js";
import { runRace } from "./runRace.js";

export interface CaseContext {
  conn: H2Connection;
  probe: Probe;
  port: number;
  control: Control;
}

export interface CaseResult {
  violations: Violation[];
  /** For statistics: the status name (or outcome kind) of the call. */
  answer: string;
}

export async function runCase(ctx: CaseContext, c: FuzzCase): Promise<CaseResult> {
  if (c.kind === "socket") return runSocket(ctx, c);
  if (c.kind === "race") return runRace(ctx, c);
  return runCall(ctx, c);
}

function answerName(o: Outcome): string {
  if (o.kind === "status") return status[o.code] ?? String(o.code);
  if (o.kind === "http") return `HTTP_${o.httpStatus}`;
  return o.kind.toUpperCase();
}

async function runCall(ctx: CaseContext, c: CallCase): Promise<CaseResult> {
  const { control, probe } = ctx;
  const outcome = await ctx.conn.send(c.framing.transmission);
  const violations: Violation[] = [];
  const statusProblem = checkStatus(outcome, c.expect);
  if (statusProblem) violations.push(statusProblem);
  const accepted = outcome.kind === "status" && outcome.code === status.OK;
  const e = c.expect;
  const after = await probe.look(control.id);

  if (!accepted || !e.reachesHandler || c.meta.aim !== "control") {
    const what = accepted
      ? `after an accepted ${c.rpc} on another session`
      : `after ${answerName(outcome)}`;
    const v = checkUnchanged(control, after, what);
    if (v) violations.push(v);
  }
  if (!accepted || !e.reachesHandler || e.effect === "unknown" || e.effect === undefined) {
    return { violations, answer: answerName(outcome) };
  }
  if (outcome.kind !== "status") return { violations, answer: answerName(outcome) };
  const effect = e.effect;
  const fields = new ResponseFields(outcome.messages[0] ?? new Uint8Array());
  const fail = (detail: string) => violations.push({ property: PROPERTY.effect, detail });
  const target = c.target;

  // What the response says.
  try {
    const problem = responseProblem(c, fields, control);
    if (problem) fail(`${c.rpc} response: ${problem}`);
  } catch (err) {
    fail(`${c.rpc} response does not decode: ${(err as Error).message}`);
  }

  // What the sessions are afterwards.
  if (c.meta.aim === "control") {
    if (effect.kind === "none") {
      const v = checkUnchanged(control, after, `after an accepted ${c.rpc}`);
      if (v) violations.push({ property: PROPERTY.effect, detail: v.detail });
    } else if (effect.kind === "write") {
      if (!after.exists) fail(`after ${c.rpc} the session is gone`);
      else {
        const diff = sameData(effect.data, after.data);
        if (diff) fail(`after ${c.rpc}: ${diff}`);
        const okVersion =
          after.version === control.version + 1 ||
          (!effect.grows && after.version === control.version);
        if (!okVersion) fail(`after ${c.rpc}: version ${control.version} → ${after.version}`);
      }
    } else if (effect.kind === "removeAll") {
      if (after.exists) fail("after RemoveAll the session still exists");
    } else if (effect.kind === "regenerate") {
      const newId = fields.string(1);
      if (effect.keepOld) {
        const v = checkUnchanged(control, after, "the old session after Regenerate keep_old");
        if (v) fail(v.detail);
      } else if (after.exists) fail("after Regenerate the old id still names a session");
      const moved = await probe.look(newId);
      if (!moved.exists) fail(`the regenerated session ${newId.slice(0, 6)}… does not exist`);
      else {
        const diff = sameData(control.data, moved.data);
        if (diff) fail(`Regenerate changed the data: ${diff}`);
      }
    }
  } else if (effect.kind === "write" && target.exists === false && c.rpc !== "Remove") {
    const id = issuedId(outcome);
    const bad = validNewId(id, c.meta.sentId);
    if (bad) fail(`${c.rpc} on no session: ${bad}`);
    else {
      const created = await probe.look(id as string);
      if (!created.exists) fail(`${c.rpc} created nothing under the issued id`);
      else {
        const diff = sameData(effect.data, created.data);
        if (diff) fail(`the new session: ${diff}`);
        if (created.version !== 1) fail(`the new session is at version ${created.version}`);
      }
    }
  }
  return { violations, answer: answerName(outcome) };
}

/** What an accepted call's response must hold, given the session it acted on. */
function responseProblem(c: CallCase, f: ResponseFields, control: Control): string | undefined {
  const t = c.target;
  const effect = c.expect.effect;
  const v = (want: bigint, got: bigint, what = "version") =>
    want === got ? undefined : `${what} ${got}, want ${want}`;
  switch (c.rpc) {
    case "Get": {
      const key = c.req.key as string;
      const found = Object.hasOwn(t.data, key);
      const got = f.varint(2) !== 0n;
      if (got !== found)
        return `found=${got} for key ${JSON.stringify(key).slice(0, 40)}, want ${found}`;
      if (!found) return undefined;
      const raw = f.bytes(1);
      const value = raw === undefined ? undefined : decodeValue(raw);
      return canonical(value) === canonical(t.data[key])
        ? undefined
        : `value ${canonical(value).slice(0, 100)}, want ${canonical(t.data[key]).slice(0, 100)}`;
    }
    case "Contains": {
      const found = Object.hasOwn(t.data, c.req.key as string);
      return (f.varint(1) !== 0n) === found ? undefined : `found=${!found}, want ${found}`;
    }
    case "Size":
      return v(BigInt(Object.keys(t.data).length), f.varint(1), "size");
    case "GetData": {
      const raw = f.bytes(1);
      return sameData(t.data, raw === undefined ? {} : decodeStruct(raw));
    }
    case "Describe":
      if (f.string(1) !== control.id) return "session_id is not the session's id";
      return (
        v(BigInt(t.version), f.varint(2)) ??
        v(BigInt(Object.keys(t.data).length), f.varint(3), "size")
      );
    case "Set":
    case "SetMap":
    case "Increment": {
      const id = f.string(1);
      if (t.exists && id !== control.id) return `session_id ${id.slice(0, 6)}…, not the session's`;
      const vp = v(BigInt(t.version + 1), f.varint(2));
      if (vp) return vp;
      if (c.rpc === "Increment" && effect && effect !== "unknown" && effect.kind === "write") {
        const got = f.double(3);
        if (!Object.is(got + 0, (effect.incremented ?? 0) + 0))
          return `value ${got}, want ${effect.incremented}`;
      }
      return undefined;
    }
    case "Remove": {
      const got = f.varint(1);
      if (!t.exists) return v(0n, got);
      return got === BigInt(t.version) || got === BigInt(t.version + 1)
        ? undefined
        : `version ${got}, want ${t.version + 1}`;
    }
    case "Regenerate": {
      const bad = validNewId(f.string(1), control.id);
      return bad ? `session_id: ${bad}` : undefined;
    }
    case "Touch":
      return f.bytes(1) === undefined ? "no expire_time" : undefined;
    default:
      return undefined;
  }
}

async function runSocket(ctx: CaseContext, c: SocketCase): Promise<CaseResult> {
  const result = await rawSocket(ctx.port, c.bytes);
  const after = await ctx.probe.look(ctx.control.id);
  const v = checkUnchanged(ctx.control, after, `after raw bytes (${result})`);
  return { violations: v ? [v] : [], answer: "SOCKET" };
}
