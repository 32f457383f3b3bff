/**
 * What is wrong with a request's bytes, worded for the caller: the strict decoders throw
 * it, and the service answers it as INVALID_ARGUMENT with this message.
 */
export class WireProblem extends Error {
  override readonly name = "WireProblem";
}

const SHOWN_BYTES = 32;

/** `what` held bytes that are not UTF-8; the message shows them, as a caller needs to find them. */
export function notUtf8(what: string, bytes: Uint8Array): WireProblem {
  const shown = Buffer.from(bytes.subarray(0, SHOWN_BYTES))
    .toString("hex")
    .replace(/..(?!$)/g, "$& ");
  const more = bytes.length > SHOWN_BYTES ? ` … (${bytes.length} bytes)` : "";
  return new WireProblem(
    `${what} is not valid UTF-8 (bytes ${shown}${more}); proto3 strings must be UTF-8`,
  );
}
