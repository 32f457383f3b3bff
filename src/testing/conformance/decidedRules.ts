// Rules where the storages once disagreed, decided once in Storage.ts (and SpecStorage):
// each test is a divergence the differential test found or the generator used to avoid.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import { idInFamily } from "../../core/storage/idFamily.js";
import type { Idempotency } from "../../core/storage/Storage.js";
import { sleep } from "../timing.js";
import { type ConformanceSuite, createdSession, LONG, options, refused, set } from "./helpers.js";

/** A request record named `name`, for the request `body` (both hashed, as the Manager does). */
function record(name: string, body: string): Idempotency {
  const hex = (text: string) => createHash("sha256").update(text).digest("hex");
  return { key: hex(`key ${name}`), fingerprint: hex(`body ${body}`), windowMs: 60_000 };
}

/** -0, regenerate into itself, and the scope and lifetime of request records. */
export function decidedRules({ fresh, timed, manager }: ConformanceSuite): void {
  it(
    "regenerating a missing id into itself is missing; a live one into itself is taken",
    fresh(async (storage) => {
      const id = newSessionId();
      const into = { ...LONG, keepOld: false };
      assert.equal(await storage.regenerate(id, id, into), "missing", "the old id comes first");
      const idem = { ...into, idempotency: record("self", "regenerate") };
      assert.equal(await storage.regenerate(id, id, idem), "missing", "with a request id too");
      await storage.apply(id, { ops: [set("a", 1)] }, options("create"));
      assert.equal(await storage.regenerate(id, id, into), "taken");
      assert.equal(await storage.regenerate(id, id, { ...into, keepOld: true }), "taken");
      assert.deepEqual((await storage.read(id, LONG))?.data, { a: 1 }, "left as it was");
    }),
  );

  it(
    "stores and answers -0 as 0, in values and in increments (JSON has no -0)",
    fresh(async (storage) => {
      const id = await createdSession(manager(storage), { z: 1, n: 1, m: 1 });
      // No key added: the write that once kept -0 where the JSON storages read back 0
      // (and -0 + -0 is the one sum that is -0).
      const applied = await storage.apply(
        id,
        {
          ops: [
            set("z", -0),
            set("n", [-0, { x: -0 }]),
            set("m", -0),
            { type: "increment", key: "m", delta: -0 },
          ],
        },
        options("existing"),
      );
      assert.ok(Object.is(applied?.incremented.m, 0), "incremented: 0, not -0");
      const data = (await storage.read(id, LONG))?.data;
      assert.ok(data, "the session is there");
      assert.ok(Object.is(data.z, 0), `z reads back as 0, got ${String(data.z)}`);
      const [first, second] = data.n as [number, { x: number }];
      assert.ok(Object.is(first, 0) && Object.is(second.x, 0), "nested -0 reads back as 0");
      assert.ok(Object.is((await storage.readKey(id, "z", LONG))?.value, 0));
      const again = await storage.apply(
        id,
        { ops: [{ type: "increment", key: "z", delta: -0 }] },
        options("existing"),
      );
      assert.ok(Object.is(again?.incremented.z, 0));
    }),
  );

  it(
    "an idempotent regenerate that moves nothing says why (missing, taken), unrecorded",
    fresh(async (storage) => {
      const id = newSessionId();
      const other = idInFamily(id, newSessionId());
      const idempotency = record("regen", "regenerate");
      const opts = { ...LONG, keepOld: false, idempotency };
      assert.equal(await storage.regenerate(id, other, opts), "missing");
      await storage.apply(id, { ops: [set("a", 1)] }, options("create"));
      await storage.apply(other, { ops: [set("b", 1)] }, options("create"));
      assert.equal(await storage.regenerate(id, other, opts), "taken");
      await storage.destroy(other);
      const moved = await storage.regenerate(id, other, opts);
      assert.ok(typeof moved === "object" && moved.replayed === undefined, "nothing recorded");
    }),
  );

  it(
    "a request record belongs to its session: the same key on another session is another record",
    fresh(async (storage) => {
      const m = manager(storage);
      const a = await createdSession(m, { n: 0 });
      const b = await createdSession(m, { n: 0 });
      const ops = [set("n", 1)];
      await storage.apply(a, { ops }, options("existing", { idempotency: record("k", "a") }));
      const onB = await storage.apply(
        b,
        { ops },
        options("existing", { idempotency: record("k", "b") }),
      );
      assert.equal(onB?.replayed, undefined, "applied on b, not answered from a's record");
      assert.equal(onB?.version, 2);
      // On its own session the key still answers, and refuses another request.
      await assert.rejects(
        storage.apply(a, { ops }, options("existing", { idempotency: record("k", "other") })),
        refused("already_exists", "REQUEST_ID_REUSED"),
      );
      // A create's records are a scope of their own: found by a create's retry, not by a
      // later write to the session it created.
      const created = newSessionId();
      const create = options("create", { idempotency: record("c", "create") });
      await storage.apply(created, { ops }, create);
      const retry = await storage.apply(idInFamily(created, newSessionId()), { ops }, create);
      assert.equal(retry?.replayed, true, "the create's retry is answered by its record");
      const later = await storage.apply(
        created,
        { ops: [set("n", 2)] },
        options("existing", { idempotency: record("c", "later") }),
      );
      assert.equal(later?.replayed, undefined);
      assert.equal(later?.version, 2);
    }),
  );

  it(
    "request records outlive their session: a destroy without request id, a regenerate away, expiry",
    timed(async (storage) => {
      const ops = [{ type: "increment" as const, key: "n", delta: 1 }];
      // `destroyed` is in `expired`'s family: the last step regenerates one into the other,
      // which a Redis Cluster can do only within one slot.
      const expired = newSessionId();
      const destroyed = idInFamily(expired, newSessionId());
      const moved = newSessionId();
      const ids = [destroyed, moved, expired];
      for (const id of ids) await storage.apply(id, { ops }, options("create"));
      const idem = (id: string) => record(`outlive ${id}`, "increment");
      const write = (id: string) =>
        storage.apply(id, { ops }, { ...options("upsert"), idempotency: idem(id) });
      for (const id of ids) assert.equal((await write(id))?.version, 2);

      await storage.destroy(destroyed);
      await storage.regenerate(moved, idInFamily(moved, newSessionId()), {
        ...LONG,
        keepOld: false,
      });
      // A write sets its expiry (a slide may be coalesced): 100 ms, then past it. Only a
      // lower bound on the time, never an upper.
      await storage.apply(expired, { ops: [set("b", 1)] }, options("existing", { ttlMs: 100 }));
      await sleep(300);
      for (const id of ids) {
        const again = await write(id);
        assert.equal(again?.replayed, true, "answered from the record, not applied again");
        assert.equal(again?.version, 2);
        assert.equal(await storage.read(id, LONG), undefined, "and nothing created");
      }
      // The id is free all the same: a create under it creates (over the records' keeper).
      const anew = await storage.apply(expired, { ops: [set("a", 1)] }, options("create"));
      assert.equal(anew?.version, 1);
      const into = await storage.regenerate(expired, destroyed, { ...LONG, keepOld: false });
      assert.ok(typeof into === "object", `regenerate into a destroyed id: ${String(into)}`);
      assert.equal((await write(destroyed))?.replayed, true, "its records still answer");
    }),
  );
}
