import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  futimesSync,
  mkdirSync,
  openSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Logger } from "../core/Logger.js";
import { SessionError } from "../core/SessionError.js";
import { fsError } from "./fsErrors.js";

/** Temp files (writes in progress, probes) are `.<name>.tmp`: never taken for sessions. */
export const TEMP_SUFFIX = ".tmp";

/**
 * Creates the directory 0700 and refuses one that other users can reach but that this
 * process does not own (a planted directory in a shared /tmp). Checks that the
 * filesystem keeps millisecond timestamps, which the expiry relies on.
 */
export function prepareDir(dir: string, logger: Logger): void {
  try {
    makeDirs(dir);
  } catch (err) {
    throw fsError(err, "create the directory", dir);
  }
  const stats = statSync(dir);
  if (!stats.isDirectory()) {
    throw new SessionError("unavailable", `file storage directory ${dir} is not a directory`);
  }
  const uid = process.getuid?.();
  if ((stats.mode & 0o077) !== 0) {
    if (uid !== undefined && stats.uid !== uid) {
      throw new SessionError(
        "unavailable",
        `file storage directory ${dir} belongs to another user (uid ${stats.uid}) and is open to others (mode ${(stats.mode & 0o777).toString(8)}): refusing to keep sessions there`,
      );
    }
    try {
      chmodSync(dir, 0o700);
      logger.info("file storage: tightened directory permissions to 0700", { dir });
    } catch (err) {
      throw fsError(err, "restrict the permissions of the directory", dir);
    }
  }
  checkTimestampPrecision(dir, logger);
}

/**
 * mkdir -p, one level at a time. Node 20's `mkdirSync(…, { recursive: true })` never
 * returns for a path under /proc (it spins at 100% CPU, deaf to signals), which turned a
 * mistyped SESSIOND_FILE_DIR into a hung process instead of a clear error.
 */
function makeDirs(dir: string): void {
  const missing: string[] = [];
  for (let p = resolve(dir); !existsSync(p); p = dirname(p)) {
    missing.push(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing.reverse()) {
    try {
      mkdirSync(p, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
  }
}

function checkTimestampPrecision(dir: string, logger: Logger): void {
  const probe = join(dir, `.probe-${randomBytes(6).toString("hex")}${TEMP_SUFFIX}`);
  let fd: number;
  try {
    fd = openSync(probe, "wx", 0o600);
  } catch (err) {
    throw fsError(err, "create a file", dir);
  }
  try {
    const wanted = Math.floor(Date.now() / 1000) * 1000 + 123;
    futimesSync(fd, wanted / 1000, wanted / 1000);
    const got = Math.round(fstatSync(fd).mtimeMs);
    if (got !== wanted) {
      logger.warn("file storage: the filesystem rounds file times; expiry will be imprecise", {
        dir,
        roundedByMs: Math.abs(got - wanted),
      });
    }
  } finally {
    closeSync(fd);
    unlinkSync(probe);
  }
}
