import { readFileSync } from "node:fs";

let cached: string | undefined;

/**
 * sessiond's version, from its package.json: two levels up from this file in src/ and in
 * dist/ alike. "unknown" where there is none (code bundled away from its package).
 */
export function packageVersion(): string {
  cached ??= read();
  return cached;
}

function read(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    return pkg?.name === "sessiond" && typeof pkg.version === "string" ? pkg.version : "unknown";
  } catch {
    return "unknown";
  }
}
