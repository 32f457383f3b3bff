import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

/**
 * The file storage's default directory: `$XDG_STATE_HOME/sessiond`, else
 * `~/.local/state/sessiond`. Not under the OS temp directory: in a shared /tmp another
 * local user can create `sessiond` first, with a key and sessions of their choosing, or
 * just to keep the server from starting. Only this user can create a path in their home.
 */
export function defaultFileDir(
  env: Readonly<Record<string, string | undefined>> = process.env,
): string {
  const state = env.XDG_STATE_HOME;
  // The XDG spec says a relative value is invalid and to be ignored.
  const base =
    state !== undefined && isAbsolute(state)
      ? state
      : join(env.HOME || homedir(), ".local", "state");
  return join(base, "sessiond");
}
