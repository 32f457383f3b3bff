import { defaultShown, envName, flagUsage } from "./config/Setting.js";
import { SETTINGS } from "./config/settings.js";

/** The --help text: every flag, its variable, its default and what it does. */
export function helpText(): string {
  const lines = [
    "sessiond: session management for gRPC (sessiond.v1.SessionService, health, reflection).",
    "",
    "Usage: sessiond [--flag value | --flag=value]...",
    "       (in a checkout of the repository: npm start -- [flags])",
    "",
    "Every setting is a flag and an environment variable; a flag wins over the variable.",
    "An unknown flag or SESSIOND_ variable, or a setting the chosen storage does not read,",
    "stops start-up (exit 2) with one line naming the fix.",
    "Durations take ms, s, m, h, d suffixes (500ms, 30s, 24h) or whole milliseconds.",
    "",
  ];
  for (const s of SETTINGS) {
    lines.push(`  ${flagUsage(s)}, ${envName(s)}`);
    lines.push(`      ${s.description} (default: ${defaultShown(s)})`);
  }
  lines.push("", "  --help, -h", "      Print this help and exit.");
  lines.push("  --version", "      Print sessiond <version> and exit.");
  return `${lines.join("\n")}\n`;
}

/** True when the command line asks for --help / -h. */
export function wantsHelp(argv: readonly string[]): boolean {
  return argv.some((arg) => arg === "--help" || arg === "-h");
}
