export {
  describeStorageConformance,
  ROUND_TRIP_VALUES,
  type StorageTarget,
} from "./describeStorageConformance.js";
export { retryOnStall, Stall, sleep, within } from "./timing.js";
