// Rule: ids, TTLs and expected versions no caller could mean are refused with invalid_argument.
import assert from "node:assert/strict";
import { it } from "node:test";
import { newSessionId } from "../../core/session/ids.js";
import type { Expiry } from "../../core/storage/Storage.js";
import { type ConformanceSuite, code, LONG, options, set } from "./helpers.js";

/** Ids a storage must refuse (invalid_argument) even though Manager never passes them. */
const HOSTILE_IDS = ["../x", "a/b", "", "a\u0000b", "a b", "a:b", "{a}", "a\\b", "a.b"];

/** Hostile ids and nonsense expiries. */
export function invalidArguments({ fresh }: ConformanceSuite): void {
  it(
    "refuses hostile ids with invalid_argument",
    fresh(async (storage) => {
      for (const id of HOSTILE_IDS) {
        const shown = JSON.stringify(id);
        await assert.rejects(
          storage.apply(id, { ops: [set("a", 1)] }, options("upsert")),
          code("invalid_argument"),
          `apply ${shown}`,
        );
        await assert.rejects(storage.read(id, LONG), code("invalid_argument"), `read ${shown}`);
        await assert.rejects(
          storage.readKey(id, "a", LONG),
          code("invalid_argument"),
          `readKey ${shown}`,
        );
        await assert.rejects(storage.touch(id, LONG), code("invalid_argument"), `touch ${shown}`);
        await assert.rejects(storage.destroy(id), code("invalid_argument"), `destroy ${shown}`);
      }
    }),
  );

  it(
    "refuses nonsense TTLs and expected versions with invalid_argument, writing nothing",
    fresh(async (storage) => {
      const id = newSessionId();
      const badExpiries: Expiry[] = [
        { ttlMs: 0 },
        { ttlMs: -1 },
        { ttlMs: Number.NaN },
        { ttlMs: 1.5 },
        { ttlMs: 1000, maxLifetimeMs: 0 },
        { ttlMs: 1000, maxLifetimeMs: Number.POSITIVE_INFINITY },
      ];
      for (const expiry of badExpiries) {
        const shown = JSON.stringify(expiry);
        await assert.rejects(
          storage.apply(id, { ops: [set("a", 1)] }, options("upsert", expiry)),
          code("invalid_argument"),
          `apply ${shown}`,
        );
        await assert.rejects(storage.read(id, expiry), code("invalid_argument"), `read ${shown}`);
        await assert.rejects(storage.touch(id, expiry), code("invalid_argument"), `touch ${shown}`);
      }
      for (const expectedVersion of [-1, 0.5, Number.NaN]) {
        await assert.rejects(
          storage.apply(id, { ops: [set("a", 1)], expectedVersion }, options("upsert")),
          code("invalid_argument"),
          `expectedVersion ${expectedVersion}`,
        );
      }
      assert.equal(await storage.read(id, LONG), undefined, "nothing was created");
    }),
  );
}
