import { assignKey, type SessionData } from "../json.js";
import type { Counted } from "./countDelta.js";

/** Sessions up to this many keys are re-laid out after growing (see compact()). */
const COMPACT_KEYS = 32;

/**
 * The entry's data with an accepted delta in: changed in place (nothing outside holds
 * it, since reads hand out copies, and this runs synchronously, so no reader sees half a
 * delta), or a fresh object after a clear.
 */
export function merged(original: SessionData | undefined, counted: Counted): SessionData {
  const data = counted.cleared || original === undefined ? {} : original;
  for (const [key, value] of counted.changes) {
    if (value === undefined) delete data[key];
    else assignKey(data, key, value);
  }
  return counted.grew && counted.keys <= COMPACT_KEYS ? compact(data) : data;
}

/**
 * The same data in fresh objects. Keys added one by one to an object spill into a separate
 * property array (a spread copy keeps that layout); objects built by JSON.parse hold their
 * properties inline, 32 bytes less for a typical session. Values are JSON already (the
 * storage contract), so the text round trip changes nothing. Only done when a small
 * session gained keys.
 */
function compact(data: SessionData): SessionData {
  return JSON.parse(JSON.stringify(data)) as SessionData;
}
