import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  type Stats,
  statSync,
  unlinkSync,
} from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Logger } from "../core/Logger.js";
import { SessionError } from "../core/SessionError.js";
import { fsError } from "./fsErrors.js";
import { permissionProblem } from "./permissionProblem.js";

/** Temp files (writes in progress, probes) are `.<name>.tmp`: never taken for sessions. */
export const TEMP_SUFFIX = ".tmp";

/**
 * Creates the directory 0700 and refuses one this process's user does not own, or that
 * group or others may write, or whose parent another user controls: a directory planted
 * in a shared /tmp (with an id-hash key or session files of its maker's choosing) must
 * never be used, even 0700. Root owning it is no exception, unlike for key files: the
 * storage must write there, which only its owner may do once group and others may not.
 * A directory only others may read is tightened to 0700. Checks that the filesystem
 * keeps millisecond timestamps, which the expiry relies on.
 */
export function prepareDir(dir: string, logger: Logger): void {
  try {
    makeDirs(dir);
  } catch (err) {
    throw fsError(err, "create the directory", dir);
  }
  const path = resolve(dir);
  const link = lstatSync(path);
  if (link.isSymbolicLink()) {
    untrusted(`file storage directory ${path} is a symbolic link that`, path, link, "700", true);
  }
  const stats = statSync(path);
  if (!stats.isDirectory()) {
    throw new SessionError("unavailable", `file storage directory ${dir} is not a directory`, {
      reason: "STORAGE_UNAVAILABLE",
    });
  }
  untrusted(`file storage directory ${path}`, path, stats, "700", false);
  const up = dirname(path);
  const parent = statSync(up);
  // A parent others may write without the sticky bit (/tmp has it) lets them rename this
  // directory away and put their own in its place.
  if ((parent.mode & 0o1000) === 0) {
    untrusted(`the parent of file storage directory ${path}, ${up},`, up, parent, "go-w", true);
  }
  if ((stats.mode & 0o077) !== 0) {
    try {
      chmodSync(path, 0o700);
      logger.info("file storage: tightened directory permissions to 0700", { dir });
    } catch (err) {
      throw fsError(err, "restrict the permissions of the directory", dir);
    }
  }
  checkTimestampPrecision(dir, logger);
}

function untrusted(
  subject: string,
  path: string,
  stats: Stats,
  fixMode: string,
  rootMayOwn: boolean,
): void {
  const problem = permissionProblem(path, stats, { rootMayOwn, fixMode });
  if (problem !== undefined) {
    throw new SessionError("unavailable", `${subject} ${problem}`, {
      reason: "STORAGE_UNAVAILABLE",
    });
  }
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
