/**
 * What an attacker holding a storage dump and a (guessed) request id could compute under
 * the request-record scheme before the records were keyed with the server's secret: the
 * record's name (a plain SHA-256 of the request id) and the key its issued session id was
 * sealed under (HKDF from the request id alone). Tests use it to show that neither finds
 * nor opens anything any more.
 */
import { createHash, hkdfSync } from "node:crypto";
import { isValidSessionId } from "../../src/core/session/ids.js";
import { openWith } from "../../src/core/storage/KeyRing.js";

const OLD_DOMAIN = "sessiond/request-id/v1";

/** The name the old scheme gave step `step` of request id `rid`. */
export function oldRecordName(rid: string, step = 0): string {
  return createHash("sha256").update(`${OLD_DOMAIN}\0key\0${rid}\0${step}`, "utf8").digest("hex");
}

/** The key the old scheme sealed step `step`'s issued session id under. */
export function oldSealKey(rid: string, step = 0): Buffer {
  return Buffer.from(hkdfSync("sha256", rid, OLD_DOMAIN, `seal ${step}`, 32) as ArrayBuffer);
}

/**
 * Every session id the old scheme's key opens out of `texts` (a dump): each base64url run
 * is tried as a sealed id, with every 64-hex name in the dump (and the old name) as the
 * authenticated data the seal was bound to.
 */
export function unsealWithRequestIdAlone(
  texts: readonly string[],
  rid: string,
  steps = 2,
): string[] {
  const all = texts.join("\n");
  const candidates = new Set(all.match(/[0-9A-Za-z_-]{40,}/g) ?? []);
  const names = new Set(all.match(/[0-9a-f]{64}/g) ?? []);
  const found: string[] = [];
  for (let step = 0; step < steps; step++) {
    const key = oldSealKey(rid, step);
    const aads = new Set([oldRecordName(rid, step), ...names]);
    for (const candidate of candidates) {
      const sealed = Buffer.from(candidate, "base64url");
      for (const aad of aads) {
        try {
          const id = openWith(key, sealed, Buffer.from(aad, "latin1")).toString("utf8");
          if (isValidSessionId(id)) found.push(id);
        } catch {
          // Does not open: what the test wants.
        }
      }
    }
  }
  return found;
}
