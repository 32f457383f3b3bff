/**
 * The ids a storage accepts: what Manager issues, and nothing a path or a key could be
 * built from unsafely. Every storage checks it again (defence in depth), each in its own
 * words; this is the one definition of the rule.
 */
export const SAFE_ID = /^[0-9A-Za-z_-]{1,128}$/;

export function isSafeId(id: unknown): id is string {
  return typeof id === "string" && SAFE_ID.test(id);
}
