import { status } from "@grpc/grpc-js";
import type { RaceCase } from "./generateCase.js";
import { baseHeaders } from "./generateFrame.js";
import { grpcFrame, type Outcome } from "./h2Call.js";
import { canonical } from "./jsonModel.js";
import { PROPERTY, type Violation } from "./properties.js";
import { ResponseFields } from "./responseFields.js";
import type { CaseContext, CaseResult } from "./runCase.js";
import { concat, doubleBytes, lenField, tag, utf8, varintField, WT } from "./wire.js";

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

function fieldsOf(o: Outcome): ResponseFields {
  return new ResponseFields(
    o.kind === "status" ? (o.messages[0] ?? new Uint8Array()) : new Uint8Array(),
  );
}

/** session_id of a Set/Regenerate response. */
function idOf(o: Outcome): string {
  return fieldsOf(o).string(1);
}

function versionOf(o: Outcome): bigint {
  return fieldsOf(o).varint(2);
}

/**
 * Races: well-formed requests sent at the same time on one connection. Which one wins is
 * free; what every outcome must keep is that an acknowledged write is never lost and that
 * one session is never regenerated into two.
 */
export async function runRace(ctx: CaseContext, c: RaceCase): Promise<CaseResult> {
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
          `Set acknowledged on the old id (version ${versionOf(set)}) while Regenerate ran, but the regenerated session lacks the key: the write was lost`,
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
