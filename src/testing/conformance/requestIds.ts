// Rule: a write under a request id is answered, on every retry, with its first outcome,
// atomically with the write (see Idempotency in Storage.ts).
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { it } from "node:test";
import { resolveLimits } from "../../core/Limits.js";
import type { Manager } from "../../core/session/Manager.js";
import { newRequestId } from "../../core/session/requestId.js";
import type { Session } from "../../core/session/Session.js";
import {
  type ApplyOptions,
  type Idempotency,
  MAX_REQUEST_RECORDS,
  type Storage,
} from "../../core/storage/Storage.js";
import { retryOnStall, sleep, within } from "../timing.js";
import { type ConformanceSuite, code, createdSession, LONG, refused } from "./helpers.js";

function hex(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** Request ids: retries replay the first outcome; records are bounded and expire. */
export function requestIds(suite: ConformanceSuite): void {
  const { fresh } = suite;
  const manager = (storage: Storage, requestIdWindowMs?: number) =>
    suite.manager(storage, { requestIdWindowMs });
  /** A Session of `id` under request id `rid`, with `write` queued and committed. */
  const attempt = async (
    m: Manager,
    id: string | undefined,
    rid: string,
    write: (s: Session) => void,
  ) => {
    const s = m.session(id);
    s.setRequestId(rid, { scope: "conformance" });
    write(s);
    const result = await s.commit();
    return { s, result };
  };

  it(
    "a retried create and a retried increment return the first outcome and count once",
    fresh(async (storage) => {
      const m = manager(storage);
      const create = newRequestId();
      const first = await attempt(m, undefined, create, (s) => s.increment("n"));
      const retry = await attempt(m, undefined, create, (s) => s.increment("n"));
      assert.ok(first.s.id);
      assert.equal(retry.s.id, first.s.id, "the retry is told the id the first one issued");
      assert.equal(retry.s.idIssued, true);
      assert.equal(retry.result?.replayed, true);
      assert.equal(retry.result?.version, 1);
      assert.equal(retry.result?.incremented.n, 1);
      const id = first.s.id as string;

      const inc = newRequestId();
      const again = await attempt(m, id, inc, (s) => s.increment("n", 2));
      for (let i = 0; i < 3; i++) {
        const replayed = await attempt(m, id, inc, (s) => s.increment("n", 2));
        assert.equal(replayed.result?.replayed, true);
        assert.equal(replayed.result?.version, again.result?.version);
        assert.equal(replayed.result?.incremented.n, 3);
        assert.equal(replayed.s.id, id);
      }
      const stored = await storage.read(id, LONG);
      assert.deepEqual(stored?.data, { n: 3 }, "applied once each");
      assert.equal(stored?.version, 2);
    }),
  );

  it(
    "refuses a request id reused for a different request (already_exists), applying nothing",
    fresh(async (storage) => {
      const m = manager(storage);
      const id = await createdSession(m, { a: 0 });
      const rid = newRequestId();
      await attempt(m, id, rid, (x) => x.set("a", 1));
      const cases: [string, (x: Session) => void][] = [
        ["another body", (x) => x.set("a", 2)],
        ["another op", (x) => x.increment("a")],
        ["more ops", (x) => x.setMap({ a: 1, b: 2 })],
      ];
      for (const [what, write] of cases) {
        await assert.rejects(
          attempt(m, id, rid, write),
          refused("already_exists", "REQUEST_ID_REUSED"),
          what,
        );
      }
      const touch = m.session(id);
      touch.setRequestId(rid, { scope: "conformance" });
      await assert.rejects(touch.touch(), code("already_exists"), "another method");
      const scoped = m.session(id);
      scoped.setRequestId(rid, { scope: "elsewhere" });
      scoped.set("a", 1);
      await assert.rejects(scoped.commit(), code("already_exists"), "another scope");
      const stored = await storage.read(id, LONG);
      assert.deepEqual(stored?.data, { a: 1 });
      assert.equal(stored?.version, 2);
    }),
  );

  it(
    "records a refusal: a retry gets the same ABORTED, reason and words even once the version would match",
    fresh(async (storage) => {
      const m = manager(storage);
      const id = await createdSession(m, { a: 1 });
      const rid = newRequestId();
      const tryIt = async () => {
        const s = m.session(id);
        s.setRequestId(rid);
        s.set("a", 99);
        return s.commit({ expectedVersion: 2 });
      };
      const first = "version mismatch: expected 2, session is at 1";
      await assert.rejects(tryIt(), refused("aborted", "VERSION_MISMATCH", first));
      const bump = m.session(id);
      bump.set("b", 1);
      await bump.commit(); // now at version 2
      await assert.rejects(
        tryIt(),
        refused("aborted", "VERSION_MISMATCH", first),
        "the recorded refusal (its reason, as data), not a new write",
      );
      assert.deepEqual((await storage.read(id, LONG))?.data, { a: 1, b: 1 });
    }),
  );

  it(
    "a retried regenerate returns the same new id; a retried removeAll is answered again",
    fresh(async (storage) => {
      const m = manager(storage);
      const oldId = await createdSession(m, { user: "u1" });
      const rid = newRequestId();
      const regenerate = async () => {
        const s = m.session(oldId);
        s.setRequestId(rid);
        return s.regenerate();
      };
      const newId = await regenerate();
      assert.notEqual(newId, oldId);
      assert.equal(await regenerate(), newId, "the old one is gone, the record is not");
      assert.equal(await storage.read(oldId, LONG), undefined);
      assert.deepEqual((await storage.read(newId, LONG))?.data, { user: "u1" });
      assert.equal((await storage.read(newId, LONG))?.version, 1);

      const logout = newRequestId();
      const removeAll = async () => {
        const s = m.session(newId);
        s.setRequestId(logout);
        await s.removeAll();
      };
      await removeAll();
      await removeAll();
      const reuse = m.session(newId);
      reuse.setRequestId(logout);
      reuse.set("x", 1);
      await assert.rejects(reuse.commit(), code("already_exists"));
      assert.equal(await storage.read(newId, LONG), undefined);
    }),
  );

  it("a record expires after its window: the same id then writes anew", () =>
    retryOnStall(
      fresh(async (storage) => {
        const windowMs = 300;
        const m = manager(storage, windowMs);
        const id = await createdSession(m, { n: 0 });
        const rid = newRequestId();
        const since = Date.now();
        await attempt(m, id, rid, (s) => s.increment("n"));
        await within(since, windowMs * 0.8, "retry within the window", async () => {
          const retry = await attempt(m, id, rid, (s) => s.increment("n"));
          assert.equal(retry.result?.replayed, true);
        });
        await sleep(windowMs + 50);
        const late = await attempt(m, id, rid, (s) => s.increment("n"));
        assert.equal(late.result?.replayed, undefined);
        assert.deepEqual((await storage.read(id, LONG))?.data, { n: 2 });
      }),
    ));

  it(
    `keeps at most ${MAX_REQUEST_RECORDS} records per session, dropping the oldest`,
    fresh(async (storage) => {
      const limits = resolveLimits();
      const m = manager(storage);
      const id = await createdSession(m, { n: 0 });
      const idem = (i: number): Idempotency => ({
        key: hex(`cap ${i}`),
        fingerprint: hex("same"),
        windowMs: 60_000,
      });
      const options = (i: number): ApplyOptions => ({
        ...LONG,
        limits,
        mode: "existing",
        idempotency: idem(i),
      });
      const ops = [{ type: "increment", key: "n", delta: 1 }] as const;
      const total = MAX_REQUEST_RECORDS + 5;
      for (let i = 0; i < total; i++) await storage.apply(id, { ops }, options(i));
      const newest = await storage.apply(id, { ops }, options(total - 1));
      assert.equal(newest?.replayed, true, "the newest record is kept");
      assert.equal(newest?.version, total + 1);
      const oldest = await storage.apply(id, { ops }, options(0));
      assert.equal(oldest?.replayed, undefined, "the oldest record was dropped");
      assert.equal((await storage.read(id, LONG))?.data.n, total + 1);
    }),
  );

  it(
    "refuses malformed request ids before any storage sees them",
    fresh(async (storage) => {
      const m = manager(storage);
      for (const bad of ["short", "x".repeat(129), "has space in it!!", "é".repeat(20)]) {
        assert.throws(() => m.session().setRequestId(bad), code("invalid_argument"), bad);
      }
      const s = m.session();
      s.setRequestId(newRequestId());
      assert.throws(() => s.setRequestId(newRequestId()), code("invalid_argument"));
    }),
  );
}
