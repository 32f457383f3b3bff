import { DESCRIPTOR_SET_BASE64 } from "../gen/descriptors.js";

/**
 * The FileDescriptorSet of every proto the server describes (sessiond's, health,
 * reflection), as `buf build` wrote it: compiled into the code rather than read from a
 * file, so that a bundle or a `node_modules` without `dist/gen/` still has it.
 */
export function descriptorSet(): Uint8Array {
  return Buffer.from(DESCRIPTOR_SET_BASE64, "base64");
}
