import { readFileSync } from "node:fs";

/** The soft limit on open file descriptors (`ulimit -n`), where the OS tells it (Linux). */
export function openFileLimit(): number | undefined {
  let limits: string;
  try {
    limits = readFileSync("/proc/self/limits", "utf8");
  } catch {
    return undefined;
  }
  const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
  return soft === undefined ? undefined : Number(soft);
}

/**
 * Connections that still leave descriptors for storage files, Redis sockets and Node itself:
 * half the limit or 128 of them, whichever is less. Past the limit accept() fails, and so
 * does every call that opens a file, old connections' too.
 */
export function connectionsWithinFdLimit(configured: number, fdLimit: number | undefined): number {
  if (fdLimit === undefined) return configured;
  const headroom = Math.min(128, Math.floor(fdLimit / 2));
  return Math.max(1, Math.min(configured, fdLimit - headroom));
}
