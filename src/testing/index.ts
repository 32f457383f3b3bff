export {
  describeStorageConformance,
  ROUND_TRIP_VALUES,
  type StorageTarget,
} from "./describeStorageConformance.js";
export { type DifferentialTarget, runDifferential } from "./differentialTest.js";
export { MapDocumentStore } from "./MapDocumentStore.js";
export { SpecStorage } from "./SpecStorage.js";
export { retryOnStall, Stall, sleep, within } from "./timing.js";
