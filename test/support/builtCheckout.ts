import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { REPO_ROOT } from "./serverProcess.js";

/**
 * A copy of the checkout (no .git, no dist) with the shared node_modules linked in and
 * `npm run prepare` run in it, as `npm ci` runs it on a fresh clone: the compiled server
 * of the code under test, whatever state the checkout's own dist/ is in. Returns its path
 * (under a fresh temporary directory, removed by the caller).
 */
export function builtCheckout(): { dir: string; root: string } {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-built-"));
  const root = join(dir, "checkout");
  const skipped = new Set([".git", "node_modules", "dist"]);
  cpSync(REPO_ROOT, root, {
    recursive: true,
    filter: (from) => from === REPO_ROOT || !skipped.has(basename(from)),
  });
  symlinkSync(join(REPO_ROOT, "node_modules"), join(root, "node_modules"), "dir");
  const build = spawnSync("npm", ["run", "prepare"], {
    cwd: root,
    encoding: "utf8",
    timeout: 180_000,
    env: { ...process.env, NODE_OPTIONS: "" },
  });
  if (build.status !== 0) {
    throw new Error(`npm run prepare failed:\n${build.stdout}\n${build.stderr}`);
  }
  return { dir, root };
}

/** True while a process with this pid exists (a zombie counts: it is not reaped yet). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw err;
  }
}
