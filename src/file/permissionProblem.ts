/** What a permission check needs of fs.Stats. */
export interface OwnerAndMode {
  uid: number;
  mode: number;
}

export interface PermissionRule {
  /**
   * Root may own it as well as this process's user: key files mounted by an orchestrator
   * (a Kubernetes Secret is root-owned, 0644) are, and root can change any file anyway.
   */
  rootMayOwn: boolean;
  /** What the fix passes to chmod: 600 for a file, 700 for a directory, go-w. */
  fixMode: string;
}

/**
 * Files holding a secret (keys, tokens): root may own them, since orchestrators mount
 * secrets root-owned (a Kubernetes Secret is root-owned, 0644), and the fix is chmod 600.
 */
export const SECRET_FILE_RULE: PermissionRule = { rootMayOwn: true, fixMode: "600" };

/**
 * Why a file or directory that holds or guards a secret cannot be trusted, as the end of
 * a one-line message ("… is writable by others (mode 0666): chmod 600 PATH"), or
 * undefined when it can. Another user who can write it, or who owns it (and so can chmod
 * it), could plant a token, a key, or the sessions the server then serves. Without POSIX
 * owners (Windows) there is nothing to check.
 */
export function permissionProblem(
  path: string,
  stats: OwnerAndMode,
  rule: PermissionRule,
  uid: number | undefined = process.getuid?.(),
): string | undefined {
  if (uid === undefined) return undefined;
  const ownerOk = stats.uid === uid || (rule.rootMayOwn && stats.uid === 0);
  if (!ownerOk) {
    const owners = rule.rootMayOwn && uid !== 0 ? `uid ${uid}) or root` : `uid ${uid})`;
    return `is owned by uid ${stats.uid}, not by the user sessiond runs as (${owners}, so that user could change it: chown ${uid} ${path} if its content is yours, or use a path of your own`;
  }
  const writable = stats.mode & 0o022;
  if (writable !== 0) {
    const who = writable === 0o022 ? "group and others" : writable === 0o020 ? "group" : "others";
    return `is writable by ${who} (mode 0${(stats.mode & 0o777).toString(8)}), so another local user could change it: chmod ${rule.fixMode} ${path}`;
  }
  return undefined;
}
