import { closeSync, fstatSync, openSync, readFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { type PermissionRule, permissionProblem } from "./permissionProblem.js";

/** The file can be read but not trusted; `message` ends in the fix (see permissionProblem). */
export class UntrustedFileError extends Error {
  override readonly name = "UntrustedFileError";
}

/**
 * Reads a file that holds a secret (a key, the tokens), after checking who owns it and
 * who may write it. The checks and the read go through one open file, so a file swapped
 * between them is never read.
 */
export async function readPrivateFile(path: string, rule: PermissionRule): Promise<Buffer> {
  const handle = await open(path, "r");
  try {
    check(path, await handle.stat(), rule);
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}

/** readPrivateFile, synchronously (start-up only). */
export function readPrivateFileSync(path: string, rule: PermissionRule): Buffer {
  const fd = openSync(path, "r");
  try {
    check(path, fstatSync(fd), rule);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

function check(path: string, stats: { uid: number; mode: number }, rule: PermissionRule): void {
  const problem = permissionProblem(path, stats, rule);
  if (problem !== undefined) throw new UntrustedFileError(problem);
}
