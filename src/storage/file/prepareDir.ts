import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  fstatSync,
  futimesSync,
  mkdirSync,
  openSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { join } from "node:path";
import type { Logger } from "../../common/Logger.js";
import { SessionError } from "../../common/SessionError.js";
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
    mkdirSync(dir, { recursive: true, mode: 0o700 });
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
