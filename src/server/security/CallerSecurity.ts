import { stat } from "node:fs/promises";
import type { SecureContextOptions } from "node:tls";
import {
  type Metadata,
  ServerCredentials,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
} from "@grpc/grpc-js";
import { ConfigError } from "../../core/ConfigError.js";
import type { Logger } from "../../core/Logger.js";
import { SECRET_FILE_RULE } from "../../file/permissionProblem.js";
import { readPrivateFile, UntrustedFileError } from "../../file/readPrivateFile.js";
import type { ServerConfig } from "../config/ServerConfig.js";
import { type Caller, callerInterceptor } from "./callerInterceptor.js";
import type { SecuritySettings } from "./checkSecurityCombinations.js";
import { FileWatcher } from "./FileWatcher.js";
import { isLoopbackHost } from "./isLoopbackHost.js";
import { loadTlsFiles, TlsFileError, type TlsFiles } from "./loadTlsFiles.js";
import { RefusalLog } from "./RefusalLog.js";
import { ReloadableServerCredentials } from "./ReloadableServerCredentials.js";
import { TokenFileError, type TokenScan, TokenSet } from "./TokenSet.js";

type SecurityConfig = Omit<SecuritySettings, "allowInsecure"> &
  Pick<ServerConfig, "authHealth" | "reflection" | "handshakeTimeoutMs">;

export interface CallerSecurityHooks {
  /** A call passed the caller check: the connection it came on (TransportGuard's idle rule). */
  onAccepted?: (
    connection: ReturnType<ServerInterceptingCallInterface["getConnectionInfo"]>,
  ) => void;
}

interface ServedTls {
  files: TlsFiles;
  creds: ReloadableServerCredentials;
  /** The bytes in force, to tell a real change from a directory event about another file. */
  served: Buffer[];
}

interface ServedTokens {
  set: TokenSet;
  /** The file's text the set came from; undefined when the file could not be used at all. */
  text: string | undefined;
  /** Why the set is narrower than the file asks (a failed reload), to log again on SIGHUP. */
  failure?: string;
}

/**
 * Everything about who may call: the listener's credentials, the caller check, whether
 * reflection is served, and the reloads of the certificate and tokens files (on change,
 * and on reload(), which main.ts calls on SIGHUP). A certificate reload that fails is
 * logged and the previous certificate stays in force. A tokens reload fails closed: see
 * #reloadTokens.
 */
export class CallerSecurity {
  readonly credentials: ServerCredentials;
  /** undefined when there is nothing to check and no one to tell apart (no tokens, no mTLS). */
  readonly interceptor: ServerInterceptor | undefined;
  /**
   * Each admitted call's caller, by the Metadata object the handler gets as call.metadata:
   * grpc-js has no per-call context, and that instance is the one thing the interceptor
   * and the handler share. Weak: an entry goes with its call.
   */
  readonly #callers = new WeakMap<Metadata, Caller>();
  readonly reflection: boolean;
  readonly #config: SecurityConfig;
  readonly #logger: Logger;
  readonly #watcher: FileWatcher | undefined;
  readonly #tls: ServedTls | undefined;
  #tokens: ServedTokens | undefined;
  #reloading: Promise<void> = Promise.resolve();
  /** The last failure logged per kind, so that a bad file is reported once, not per event. */
  readonly #failures = new Map<"tls" | "tokens", string>();

  private constructor(
    config: SecurityConfig,
    logger: Logger,
    tls: ServedTls | undefined,
    tokens: ServedTokens | undefined,
    hooks: CallerSecurityHooks,
  ) {
    this.#config = config;
    this.#logger = logger;
    this.#tls = tls;
    this.#tokens = tokens;
    this.credentials = tls?.creds ?? ServerCredentials.createInsecure();
    const clientNames = config.tlsClientNames && new Set(config.tlsClientNames);
    const refusals = new RefusalLog(logger);
    // Under mTLS without tokens or names there is nothing to refuse, but the certificate
    // still tells callers apart (a request_id's outcome is replayed to its caller only).
    const mtls = tls !== undefined && config.tlsClientCaFile !== undefined;
    this.interceptor =
      tokens === undefined && clientNames === undefined && !mtls
        ? undefined
        : callerInterceptor({
            tokens: () => this.#tokens?.set,
            clientNames,
            authHealth: config.authHealth,
            onRefused: (method, code, reason) => refusals.refused(method, code, reason),
            onAdmitted: (call, metadata, caller) => {
              this.#callers.set(metadata, caller);
              hooks.onAccepted?.(call.getConnectionInfo());
            },
          });
    this.reflection =
      config.reflection === "auto" ? isLoopbackHost(config.host) : config.reflection === "on";
    const watched = [
      config.tlsCertFile,
      config.tlsKeyFile,
      config.tlsClientCaFile,
      config.authTokensFile,
    ].filter((path) => path !== undefined);
    this.#watcher =
      watched.length === 0
        ? undefined
        : new FileWatcher(watched, () => void this.#queue(false), {
            onWatchError: (path, err) =>
              logger.warn("cannot watch for file changes; reload with SIGHUP", {
                path,
                error: err.message,
              }),
          });
  }

  /**
   * Who sent the call whose request metadata this is (the handler's call.metadata);
   * undefined when the server checks no caller (then all callers are one).
   */
  callerOf(metadata: Metadata): Caller | undefined {
    return this.#callers.get(metadata);
  }

  /** Reads and checks every file; a bad one is a ConfigError naming it. */
  static async create(
    config: SecurityConfig,
    logger: Logger,
    hooks: CallerSecurityHooks = {},
  ): Promise<CallerSecurity> {
    let tls: ServedTls | undefined;
    if (config.tlsCertFile !== undefined && config.tlsKeyFile !== undefined) {
      const files: TlsFiles = {
        certFile: config.tlsCertFile,
        keyFile: config.tlsKeyFile,
        ...(config.tlsClientCaFile === undefined ? {} : { clientCaFile: config.tlsClientCaFile }),
      };
      const material = await loadTlsFiles(files).catch((err: unknown) => {
        throw err instanceof TlsFileError ? new ConfigError(err.message) : err;
      });
      const creds = new ReloadableServerCredentials(
        material.options,
        config.tlsClientCaFile !== undefined,
        config.handshakeTimeoutMs,
      );
      tls = { files, creds, served: servedBytes(material.options) };
      logger.info("tls certificate loaded", { ...material.summary });
    }
    let tokens: ServedTokens | undefined;
    if (config.authTokensFile !== undefined) {
      const path = config.authTokensFile;
      const what = `SESSIOND_AUTH_TOKENS_FILE (--auth-tokens-file) ${path}`;
      let text: string;
      try {
        text = await readTokensFile(path);
      } catch (err) {
        throw new ConfigError(`${what}: ${(err as Error).message}`);
      }
      try {
        tokens = { set: TokenSet.parse(text), text };
      } catch (err) {
        if (!(err instanceof TokenFileError)) throw err;
        throw new ConfigError(`${what}: ${err.message}`);
      }
      await warnIfReadableByOthers(path, logger);
      logger.info("auth tokens loaded", { tokens: tokens.set.size });
    }
    return new CallerSecurity(config, logger, tls, tokens, hooks);
  }

  /**
   * Re-reads the files; what changed and checks out replaces what was in force. Asked for
   * (SIGHUP), a failure is always logged; found by the watcher, once until it changes.
   */
  reload(): Promise<void> {
    return this.#queue(true);
  }

  #queue(asked: boolean): Promise<void> {
    this.#reloading = this.#reloading.then(() => this.#reloadOnce(asked));
    return this.#reloading;
  }

  close(): void {
    this.#watcher?.close();
  }

  async #reloadOnce(asked: boolean): Promise<void> {
    if (asked) this.#failures.clear();
    await Promise.all([this.#reloadTls(), this.#reloadTokens()]);
  }

  async #reloadTls(): Promise<void> {
    const tls = this.#tls;
    if (tls === undefined) return;
    let material: Awaited<ReturnType<typeof loadTlsFiles>>;
    try {
      material = await loadTlsFiles(tls.files);
    } catch (err) {
      this.#warnOnce("tls", "tls reload failed; the previous certificate stays in use", {
        error: (err as Error).message,
      });
      return;
    }
    this.#failures.delete("tls");
    // A directory event about another file, or the second of two files written in turn.
    const served = servedBytes(material.options);
    if (
      served.length === tls.served.length &&
      served.every((b, i) => b.equals(tls.served[i] as Buffer))
    ) {
      return;
    }
    tls.creds.update(material.options);
    tls.served = served;
    this.#logger.info("tls certificate reloaded", { ...material.summary });
  }

  /**
   * A failed reload is logged once until it changes or a reload is asked for: directory
   * events keep coming (a log file in the same directory would otherwise feed itself a
   * warning per line).
   */
  #warnOnce(kind: "tls" | "tokens", msg: string, fields: { error: string; path?: string }): void {
    this.#logOnce(kind, "warn", msg, fields);
  }

  #logOnce(
    kind: "tls" | "tokens",
    level: "warn" | "error",
    msg: string,
    fields: Record<string, unknown> & { error: string },
  ): void {
    if (this.#failures.get(kind) === fields.error) return;
    this.#failures.set(kind, fields.error);
    this.#logger[level](msg, fields);
  }

  /**
   * Fails closed (docs/security.md, "Tokens and scopes"). A file that parses replaces the
   * tokens in force. One with bad lines keeps only tokens in force that it still names,
   * with the scopes both agree on (TokenSet.narrowedTo): a removed token is refused even
   * when another line has a typo, and nothing is added or widened until the file parses.
   * A file that is missing, empty, unreadable or that another user could write leaves no
   * token valid. Every failure is logged at error, once until it changes.
   */
  async #reloadTokens(): Promise<void> {
    const path = this.#config.authTokensFile;
    const current = this.#tokens;
    if (path === undefined || current === undefined) return;
    let text: string;
    try {
      text = await readTokensFile(path);
    } catch (err) {
      const error = (err as Error).message;
      this.#failClosed(path, TokenSet.EMPTY, undefined, error);
      return;
    }
    if (text === current.text) {
      // Still the file that failed: said again when a reload is asked for, else once.
      if (current.failure !== undefined) this.#failClosed(path, current.set, text, current.failure);
      else this.#failures.delete("tokens");
      return;
    }
    const scan: TokenScan = TokenSet.scan(text);
    if (scan.errors.length > 0) {
      const set = current.set.narrowedTo(scan);
      this.#failClosed(path, set, text, scan.errors.join("; "));
      return;
    }
    if (scan.good.size === 0) {
      const error = "the file lists no token";
      this.#failClosed(path, TokenSet.EMPTY, text, error);
      return;
    }
    this.#failures.delete("tokens");
    this.#tokens = { set: scan.good, text };
    this.#logger.info("auth tokens reloaded", { tokens: scan.good.size });
  }

  #failClosed(path: string, set: TokenSet, text: string | undefined, error: string): void {
    this.#tokens = { set, text, failure: error };
    const msg =
      set.size === 0
        ? "auth tokens reload failed; no token is valid now: every call that needs one is refused until the file is fixed"
        : "auth tokens reload failed; only tokens in force that the new file still names stay valid, with the scopes both give them, until the file is fixed";
    this.#logOnce("tokens", "error", msg, { path, error, tokens: set.size });
  }
}

/** The tokens file's text, if it may be trusted; otherwise an Error saying why and the fix. */
async function readTokensFile(path: string): Promise<string> {
  try {
    return (await readPrivateFile(path, SECRET_FILE_RULE)).toString("utf8");
  } catch (err) {
    if (err instanceof UntrustedFileError) throw new Error(err.message);
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT") throw new Error("the file is missing (ENOENT)");
    throw new Error(`cannot be read (${e.code ?? e.message})`);
  }
}

function servedBytes(options: SecureContextOptions): Buffer[] {
  return [options.cert, options.key, options.ca].map((pem) =>
    Buffer.isBuffer(pem) ? pem : Buffer.alloc(0),
  );
}

async function warnIfReadableByOthers(path: string, logger: Logger): Promise<void> {
  const mode = (await stat(path)).mode;
  if ((mode & 0o077) !== 0) {
    logger.warn("the tokens file can be read by other users; chmod 600 it", {
      path,
      mode: `0${(mode & 0o777).toString(8)}`,
    });
  }
}
