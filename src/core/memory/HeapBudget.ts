import type { Refusal } from "../Refusal.js";
import type { SettingNames } from "../settingNames.js";

/** The storage-wide byte budget; countDelta refuses a delta that would take it past max. */
export interface HeapBudget {
  max: number;
  used: number;
  readonly names: SettingNames | undefined;
}

export function budgetRefusal(growth: number, budget: HeapBudget): Refusal {
  const where = budget.names?.maxTotalBytes;
  const refusal: Refusal = {
    kind: "memoryFull",
    growth,
    used: budget.used,
    maxTotalBytes: budget.max,
  };
  // Absent rather than undefined: the refusal is data a request record keeps.
  if (where !== undefined) refusal.where = where;
  return refusal;
}
