// Rule: a call whose signal is aborted touches nothing and says so.
import assert from "node:assert/strict";
import { it } from "node:test";
import { SessionError } from "../../core/SessionError.js";
import { newSessionId } from "../../core/session/ids.js";
import { callAborted } from "../../core/storage/cancellation.js";
import {
  type ConformanceSuite,
  createdSession,
  LONG,
  options,
  set,
  storedSession,
} from "./helpers.js";

/** cancellation. */
export function cancellation({ fresh, manager }: ConformanceSuite): void {
  it(
    "an aborted signal refuses every call with its reason's code, and nothing changes",
    fresh(async (storage) => {
      const id = await storedSession(storage, { a: 1 });
      for (const code of ["cancelled", "deadline_exceeded"] as const) {
        const controller = new AbortController();
        controller.abort(callAborted(code));
        const signal = controller.signal;
        const refused = (err: unknown) => {
          assert.ok(err instanceof SessionError, String(err));
          assert.equal(err.code, code, err.message);
          assert.match(err.message, /nothing was sent to the storage/);
          return true;
        };
        const calls: Array<[string, () => Promise<unknown>]> = [
          ["read", () => storage.read(id, { ...LONG, signal })],
          ["readKey", () => storage.readKey(id, "a", { ...LONG, signal })],
          [
            "apply",
            () => storage.apply(id, { ops: [set("a", 2)] }, options("existing", { signal })),
          ],
          [
            "create",
            () =>
              storage.apply(newSessionId(), { ops: [set("b", 1)] }, options("create", { signal })),
          ],
          ["touch", () => storage.touch(id, { ...LONG, signal })],
          [
            "regenerate",
            () => storage.regenerate(id, newSessionId(), { ...LONG, keepOld: false, signal }),
          ],
          ["destroy", () => storage.destroy(id, { signal })],
        ];
        for (const [name, call] of calls) await assert.rejects(call(), refused, name);
      }
      const after = await storage.read(id, LONG);
      assert.equal(after?.version, 1, "no write went through");
      assert.deepEqual(after?.data, { a: 1 });
    }),
  );

  it(
    "a Session whose signal is aborted issues no storage call at all",
    fresh(async (storage) => {
      const m = manager(storage);
      const firstId = await createdSession(m, { a: 1 });
      const controller = new AbortController();
      const s = m.session(firstId, { signal: controller.signal });
      assert.equal(await s.get("a"), 1, "before the abort it works");
      controller.abort(callAborted("cancelled"));
      s.set("a", 2);
      await assert.rejects(s.commit(), (err: unknown) => {
        assert.ok(err instanceof SessionError && err.code === "cancelled", String(err));
        return true;
      });
      await assert.rejects(m.session(firstId, { signal: controller.signal }).data(), {
        code: "cancelled",
      });
      assert.deepEqual(await m.session(firstId).data(), { a: 1 }, "nothing applied");
    }),
  );
}
