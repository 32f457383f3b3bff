import { SessionError } from "../core/SessionError.js";

/** Failures of the disk or its configuration: retrying later (or fixing the host) helps. */
const UNAVAILABLE: Record<string, string> = {
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EROFS: "read-only file system",
  EMFILE: "too many open files in this process",
  ENFILE: "too many open files on this system",
  EIO: "input/output error",
  ENOTDIR: "a component of the path is not a directory",
  ENOENT: "the directory does not exist",
  ENAMETOOLONG: "the path is too long",
  ELOOP: "too many symbolic links in the path",
  EBUSY: "resource busy",
  EAGAIN: "resource temporarily unavailable",
  ESTALE: "stale file handle",
};

/** The disk is full: like a budget, not something a retry soon fixes. */
const EXHAUSTED: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
};

export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * Maps a filesystem error to a SessionError naming the directory and the problem. Messages
 * name the directory, never a session file: a file name is a full session id.
 */
export function fsError(err: unknown, action: string, dir: string): SessionError {
  if (err instanceof SessionError) return err;
  const code = errorCode(err);
  const reason = code === undefined ? undefined : UNAVAILABLE[code];
  const cause = withoutPath(err);
  const full = code === undefined ? undefined : EXHAUSTED[code];
  if (full !== undefined) {
    return new SessionError(
      "resource_exhausted",
      `file storage cannot ${action} in ${dir}: ${full} (${code})`,
      { cause, reason: "DISK_FULL" },
    );
  }
  if (reason !== undefined) {
    return new SessionError(
      "unavailable",
      `file storage cannot ${action} in ${dir}: ${reason} (${code})`,
      // A write replaces its file by rename, so a failure left the old file in place.
      { cause, reason: "STORAGE_UNAVAILABLE" },
    );
  }
  return new SessionError("internal", `file storage failed to ${action} in ${dir}`, { cause });
}

/**
 * Node's fs errors quote the file path, and a session file's name is a whole session id;
 * the cause kept for logs says what failed without it.
 */
function withoutPath(err: unknown): unknown {
  if (!(err instanceof Error) || errorCode(err) === undefined) return err;
  const { code, syscall, errno } = err as NodeJS.ErrnoException;
  const clean = new Error(`${code}${syscall ? ` during ${syscall}` : ""}`);
  Object.assign(clean, { code, syscall, errno });
  return clean;
}

/** What a log line says of a failure: its message and code, never a stack. */
export function failure(err: unknown): Record<string, unknown> {
  return err instanceof Error
    ? { error: err.message, code: errorCode(err) }
    : { error: String(err) };
}
