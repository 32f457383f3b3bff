/**
 * A configuration mistake: an option out of range, a missing setting, two settings that
 * exclude each other. Thrown by constructors (and by the server's configuration), never
 * for a request: a request's outcome is a SessionError. `option` names the option as the
 * library spells it, so a caller that took it from somewhere else (the server's env vars
 * and flags) can say where to fix it.
 */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly option: string | undefined;
  /** The message without the option's name in front. */
  readonly reason: string;

  constructor(reason: string, option?: string) {
    super(option === undefined ? reason : `${option}: ${reason}`);
    this.option = option;
    this.reason = reason;
  }
}
