// Compiles the bench's servers and the src they import, once per run, the way users run
// sessiond: plain JavaScript from tsc (the compiler `npm run build` uses, same options, no
// loader and no keepNames wrappers), with source maps so a CPU profile points back to src/.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";

/** The servers scripts/bench/tsconfig.servers.json compiles, by entry file. */
export type ServerScript = "noopServer" | "peerServer" | "sessiondServer";

export interface ServerBuild {
  /** The build's root: src/ and scripts/bench/ below it, as in the checkout. */
  dir: string;
  /** The compiled entry of one bench server. */
  script(name: ServerScript): string;
}

/**
 * tsc -p scripts/bench/tsconfig.servers.json into `dir`: src/ and the bench servers keep
 * their relative paths, so the servers' `../../src/…` imports land on the same compiled
 * src. A package.json (its "type": "module") and a node_modules link beside them make
 * their imports resolve as in the checkout.
 */
export function buildServers(dir: string, checkout = resolve(".")): ServerBuild {
  mkdirSync(dir, { recursive: true });
  execFileSync(
    join(checkout, "node_modules/.bin/tsc"),
    ["-p", "scripts/bench/tsconfig.servers.json", "--outDir", dir],
    { cwd: checkout, stdio: "inherit" },
  );
  copyFileSync(join(checkout, "package.json"), join(dir, "package.json"));
  const modules = join(dir, "node_modules");
  if (!existsSync(modules)) symlinkSync(join(checkout, "node_modules"), modules, "dir");
  return { dir, script: (name) => join(dir, "scripts", "bench", `${name}.js`) };
}
