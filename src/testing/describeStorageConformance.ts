import { describe } from "node:test";
import { bounds } from "./conformance/bounds.js";
import { cancellation } from "./conformance/cancellation.js";
import { concurrency } from "./conformance/concurrency.js";
import { decidedRules } from "./conformance/decidedRules.js";
import { deltas } from "./conformance/deltas.js";
import { destroy } from "./conformance/destroy.js";
import { expiry } from "./conformance/expiry.js";
import { conformanceSuite, type StorageTarget } from "./conformance/helpers.js";
import { increments } from "./conformance/increments.js";
import { invalidArguments } from "./conformance/invalidArguments.js";
import { limits } from "./conformance/limits.js";
import { prototypeKeys } from "./conformance/prototypeKeys.js";
import { reads } from "./conformance/reads.js";
import { regenerate } from "./conformance/regenerate.js";
import { requestIds } from "./conformance/requestIds.js";
import { sessionLifecycle } from "./conformance/sessionLifecycle.js";
import { sessionWrites } from "./conformance/sessionWrites.js";
import { values } from "./conformance/values.js";
import { versions } from "./conformance/versions.js";

export type { StorageTarget } from "./conformance/helpers.js";
export { ROUND_TRIP_VALUES } from "./conformance/roundTripValues.js";

/**
 * Registers node:test suites that check `target` against the Storage contract, directly and
 * through Manager/Session. Each test gets a fresh storage from `target.create()` and closes
 * it afterwards. TTLs are sub-second, so the whole suite takes a few seconds.
 * The rules live one per module under ./conformance/; this only lays them out.
 *
 * ```ts
 * import { describeStorageConformance } from "sessiond/testing";
 * describeStorageConformance({ name: "mine", create: () => new MyStorage() });
 * ```
 */
export function describeStorageConformance(target: StorageTarget): void {
  const suite = conformanceSuite(target);
  describe(`storage conformance: ${target.name}`, { concurrency: true }, () => {
    // Every test has its own storage, so they can run side by side: the sleeps overlap.
    describe("the Storage contract", { concurrency: true }, () => {
      reads(suite);
      deltas(suite);
      values(suite);
      versions(suite);
      increments(suite);
      limits(suite);
      destroy(suite);
      invalidArguments(suite);
      expiry(suite);
      concurrency(suite);
      cancellation(suite);
    });
    describe("bounds on one request", { concurrency: true }, () => bounds(suite));
    describe("regenerate, one atomic step", { concurrency: true }, () => regenerate(suite));
    describe("through Manager and Session", { concurrency: true }, () => {
      sessionLifecycle(suite);
      sessionWrites(suite);
    });
    describe("request ids (idempotent writes)", { concurrency: true }, () => requestIds(suite));
    describe("Object.prototype names as keys", { concurrency: true }, () => prototypeKeys(suite));
    describe("rules once disputed (see Storage.ts)", { concurrency: true }, () =>
      decidedRules(suite),
    );
  });
}
