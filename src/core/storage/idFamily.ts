/**
 * How many leading characters of a session id a regenerated id keeps. Redis Cluster hashes
 * a session's key by them (its `{hash tag}`), so a session and the one it is regenerated
 * into share a slot and one script can move it atomically. Fresh ids draw these characters
 * at random like the rest; a regenerated id keeps them and draws the other 28 (about 145
 * bits), so whoever held the old id learns nothing that helps guess the new one.
 */
export const ID_FAMILY_LENGTH = 4;

/** The part of `id` a Redis Cluster hashes on. */
export function idFamily(id: string): string {
  return id.slice(0, ID_FAMILY_LENGTH);
}

/** `fresh` with its first characters replaced by `of`'s family: the id to regenerate into. */
export function idInFamily(of: string, fresh: string): string {
  return idFamily(of) + fresh.slice(ID_FAMILY_LENGTH);
}
