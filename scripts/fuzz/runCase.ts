import { status } from "@grpc/grpc-js";
import type { CallCase, Control, FuzzCase, RaceCase, SocketCase } from "./generateCase.js";
import { baseHeaders } from "./generateFrame.js";
import { grpcFrame, type H2Connection, type Outcome, rawSocket } from "./h2Call.js";
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
import { concat, doubleBytes, lenField, tag, utf8, varintField, WT } from "./wire.js";

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

// ---- races: well-formed requests sent at the same time on one connection ----

function call(ctx: CaseContext, rpc: string, id: string, message: Uint8Array): Promise<Outcome> {
  return ctx.conn.send({
    headers: { ...baseHeaders(`/sessiond.v1.SessionService/${rpc}`), "x-session-id": id },
    chunks: [grpcFrame(message)],
    finish: "end",
  });
}

function setMessage(key: string, value: number): Uint8Array {
  return concat([
    lenField(1, utf8(key)),
    lenField(2, concat([tag(2, WT.bit64), doubleBytes(value)])),
  ]);
}

function code(o: Outcome): number | undefined {
  return o.kind === "status" ? o.code : undefined;
}

function idOf(o: Outcome): string {
  return o.kind === "status" ? new ResponseFields(o.messages[0] ?? new Uint8Array()).string(1) : "";
}

async function runRace(ctx: CaseContext, c: RaceCase): Promise<CaseResult> {
  const { control, probe } = ctx;
  const violations: Violation[] = [];
  const fail = (detail: string) => violations.push({ property: PROPERTY.race, detail });
  const id = control.id;
  if (c.race === "regenerateVsSet") {
    const [regen, set] = await Promise.all([
      call(ctx, "Regenerate", id, c.keepOld ? varintField(1, 1) : new Uint8Array()),
      call(ctx, "Set", id, setMessage(c.key, 42)),
    ]);
    if (code(regen) !== status.OK) fail(`Regenerate answered ${JSON.stringify(code(regen))}`);
    if (code(set) !== status.OK && code(set) !== status.RESOURCE_EXHAUSTED) {
      fail(`Set answered ${JSON.stringify(code(set))}`);
    }
    if (violations.length > 0 || code(set) !== status.OK) return { violations, answer: "RACE" };
    const newId = idOf(regen);
    const setOn = idOf(set);
    const moved = await probe.look(newId);
    const old = await probe.look(id);
    if (!c.keepOld && old.exists) fail("after Regenerate the old id still names a session");
    if (setOn === id && !c.keepOld) {
      // The Set was acknowledged on the old session: it must have moved with the data.
      if (!moved.exists || !Object.hasOwn(moved.data, c.key)) {
        fail(
          `Set acknowledged on the old id (version ${new ResponseFields((set as { messages: Buffer[] }).messages[0] ?? new Uint8Array()).varint(2)}) while Regenerate ran, but the regenerated session lacks the key: the write was lost`,
        );
      }
    } else if (setOn !== id && setOn !== newId) {
      const fresh = await probe.look(setOn);
      if (!fresh.exists || canonical(fresh.data) !== canonical({ [c.key]: 42 })) {
        fail("Set issued a new session that does not hold exactly its key");
      }
      if (moved.exists && Object.hasOwn(moved.data, c.key)) fail("the key landed in two sessions");
    }
    return { violations, answer: "RACE" };
  }
  if (c.race === "regenerateTwice") {
    const both = await Promise.all([
      call(ctx, "Regenerate", id, new Uint8Array()),
      call(ctx, "Regenerate", id, new Uint8Array()),
    ]);
    const oks = both.filter((o) => code(o) === status.OK);
    for (const o of both) {
      if (code(o) !== status.OK && code(o) !== status.NOT_FOUND)
        fail(`Regenerate answered ${JSON.stringify(code(o))}`);
    }
    if (oks.length === 0) fail("neither concurrent Regenerate succeeded");
    if (oks.length > 1) {
      const ids = oks.map(idOf);
      const live = [];
      for (const newId of ids) if ((await probe.look(newId)).exists) live.push(newId);
      if (live.length > 1)
        fail(
          `two concurrent Regenerates of one session both succeeded: ${live.length} live copies of it`,
        );
    }
    if ((await probe.look(id)).exists) fail("after Regenerate the old id still names a session");
    return { violations, answer: "RACE" };
  }
  if (c.race === "concurrentIncrements") {
    const key = Object.hasOwn(control.data, "counter") ? "counter" : "n0";
    const base = control.data[key];
    if (typeof base !== "number") return { violations, answer: "RACE" };
    const msg = (d: number) =>
      concat([lenField(1, utf8(key)), concat([tag(2, WT.bit64), doubleBytes(d)])]);
    const outs = await Promise.all(c.deltas.map((d) => call(ctx, "Increment", id, msg(d))));
    const okCount = outs.filter((o) => code(o) === status.OK).length;
    if (okCount !== outs.length)
      fail(
        `${outs.length - okCount} of ${outs.length} concurrent Increments failed: ${outs.map(code).join(",")}`,
      );
    const after = await probe.look(id);
    const want = base + c.deltas.reduce((a, b) => a + b, 0);
    if (!after.exists) fail("the session vanished");
    else {
      if (after.data[key] !== want)
        fail(`${key} is ${after.data[key]} after ${outs.length} increments, want ${want}`);
      if (after.version !== control.version + outs.length)
        fail(`version ${after.version}, want ${control.version + outs.length}`);
    }
    return { violations, answer: "RACE" };
  }
  const outs = await Promise.all(
    c.deltas.map((_, i) => call(ctx, "Set", id, setMessage(`${c.key}_${i}`, i))),
  );
  const after = await probe.look(id);
  if (!after.exists) fail("the session vanished");
  else {
    let applied = 0;
    outs.forEach((o, i) => {
      const k = `${c.key}_${i}`;
      if (code(o) === status.OK) {
        applied++;
        if (after.data[k] !== i) fail(`acknowledged Set of ${k} is missing`);
      } else if (code(o) === status.RESOURCE_EXHAUSTED) {
        if (Object.hasOwn(after.data, k)) fail(`refused Set of ${k} was applied`);
      } else fail(`Set answered ${JSON.stringify(code(o))}`);
    });
    if (after.version !== control.version + applied)
      fail(`version ${after.version}, want ${control.version + applied}`);
  }
  return { violations, answer: "RACE" };
}
