import { readFileSync, statSync } from "node:fs";
import { isIP } from "node:net";
import {
  type ChannelCredentials,
  type ClientOptions,
  credentials,
  InterceptingCall,
  type Interceptor,
} from "@grpc/grpc-js";
import { ConfigError } from "../core/ConfigError.js";
import { BEARER_TOKEN, MIN_TOKEN_LENGTH } from "../protocol/bearerToken.js";

/** PEM bytes, or the path of a PEM file (read when the client is built). */
export type Pem = Buffer | string;

export interface ClientTlsOptions {
  /** CA certificates the server's certificate must chain to. Default: the system's. */
  ca?: Pem;
  /** mTLS: this client's certificate chain and its key (both or neither). */
  cert?: Pem;
  key?: Pem;
  /** Name the server certificate must carry when it is not the address's host. */
  serverName?: string;
}

/**
 * A caller token for `authorization: Bearer`: the token itself, the name of an environment
 * variable holding it, or a file holding it (re-read when it changes, so a rotated token
 * is picked up without a restart).
 */
export type TokenOption = string | { env: string } | { file: string };

export interface ConnectionOptions {
  credentials?: ChannelCredentials;
  tls?: boolean | ClientTlsOptions;
  token?: TokenOption;
  channelOptions?: Partial<ClientOptions>;
}

/** The channel credentials and options a SessionClient is built with. */
export function connectionOptions(options: ConnectionOptions): {
  credentials: ChannelCredentials;
  channelOptions: Partial<ClientOptions>;
} {
  if (options.credentials !== undefined && options.tls !== undefined) {
    throw invalid("give either credentials or tls, not both");
  }
  const tls = options.tls === true ? {} : options.tls || undefined;
  const channelOptions: Partial<ClientOptions> = { ...options.channelOptions };
  if (tls?.serverName !== undefined) {
    channelOptions["grpc.ssl_target_name_override"] = tls.serverName;
    channelOptions["grpc.default_authority"] ??= tls.serverName;
  }
  if (options.token !== undefined) {
    // An interceptor rather than call credentials: grpc-js refuses to compose those with
    // plaintext channels, and a token over plaintext on loopback is a valid set-up.
    channelOptions.interceptors = [
      bearerInterceptor(tokenReader(options.token)),
      ...(channelOptions.interceptors ?? []),
    ];
  }
  return {
    credentials:
      options.credentials ??
      (tls ? withoutIpServerName(tlsCredentials(tls)) : credentials.createInsecure()),
    channelOptions,
  };
}

/** What withoutIpServerName reaches into: grpc-js's secure connector (1.13 and 1.14). */
interface SecureConnectorFactory {
  _createSecureConnector?: (
    ...args: unknown[]
  ) => { connectionOptions?: { servername?: unknown } } | undefined;
}

/**
 * grpc-js gives TLS the address's host as the server name (SNI) even when it is an IP
 * literal, which RFC 6066 forbids and Node answers with a DEP0123 warning. For an IP, this
 * drops it: no SNI is sent, and Node checks the certificate against the IP (the connection's
 * host) as before. A `tls.serverName` override keeps its own check. With a grpc-js that
 * builds connectors differently, nothing changes.
 */
function withoutIpServerName(secure: ChannelCredentials): ChannelCredentials {
  const factory = secure as unknown as SecureConnectorFactory;
  const create = factory._createSecureConnector;
  if (typeof create !== "function") return secure;
  factory._createSecureConnector = function (this: unknown, ...args: unknown[]) {
    const connector = create.apply(this, args);
    const options = connector?.connectionOptions;
    if (typeof options?.servername === "string" && isIP(options.servername) !== 0) {
      delete options.servername;
    }
    return connector;
  };
  return secure;
}

function tlsCredentials(tls: ClientTlsOptions): ChannelCredentials {
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw invalid("tls.cert and tls.key go together: give both for mTLS, or neither");
  }
  return credentials.createSsl(
    tls.ca === undefined ? null : pem(tls.ca, "tls.ca"),
    tls.key === undefined ? null : pem(tls.key, "tls.key"),
    tls.cert === undefined ? null : pem(tls.cert, "tls.cert"),
  );
}

function pem(value: Pem, what: string): Buffer {
  if (Buffer.isBuffer(value)) return value;
  try {
    return readFileSync(value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw invalid(`${what}: cannot read ${JSON.stringify(value)} (${code})`);
  }
}

function bearerInterceptor(token: () => string): Interceptor {
  return (options, nextCall) =>
    new InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token()}`);
        next(metadata, listener);
      },
    });
}

/** How often a token file is checked for a change, at most. */
const TOKEN_FILE_CHECK_MS = 1000;

function tokenReader(option: TokenOption): () => string {
  if (typeof option === "string") {
    const token = checked(option, "token");
    return () => token;
  }
  if ("env" in option) {
    const token = checked(process.env[option.env] ?? "", `environment variable ${option.env}`);
    return () => token;
  }
  const path = option.file;
  const read = () => checked(pem(path, "token file").toString("utf8"), `token file ${path}`);
  let token = read();
  let mtimeMs = statSync(path).mtimeMs;
  let checkedAt = Date.now();
  return () => {
    const now = Date.now();
    if (now - checkedAt >= TOKEN_FILE_CHECK_MS) {
      checkedAt = now;
      try {
        const seen = statSync(path).mtimeMs;
        if (seen !== mtimeMs) {
          token = read();
          mtimeMs = seen;
        }
      } catch {
        // Mid-rotation (file briefly missing or empty): keep the last good token.
      }
    }
    return token;
  };
}

function checked(raw: string, what: string): string {
  const token = raw.trim();
  if (!BEARER_TOKEN.test(token)) {
    throw invalid(
      `${what}: expected one token (letters, digits, - . _ ~ + /), got ${token === "" ? "nothing" : "other characters"}`,
    );
  }
  // The server refuses shorter tokens in its tokens file, so such a token cannot work.
  if (token.length < MIN_TOKEN_LENGTH) {
    throw invalid(
      `${what}: a token is at least ${MIN_TOKEN_LENGTH} characters (the server accepts no shorter one), got ${token.length}`,
    );
  }
  return token;
}

/** Options are checked while the client is built: a mistake there is a ConfigError. */
function invalid(message: string): ConfigError {
  return new ConfigError(message);
}
