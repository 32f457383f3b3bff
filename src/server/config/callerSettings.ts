import { parseBoolean, parseChoice, parseNameList, parseReadableFile } from "../parsers.js";
import { REFLECTION_SETTINGS } from "./ServerConfig.js";
import type { AnySetting } from "./Setting.js";

/** Callers (docs/security.md). Files are re-read on change and on SIGHUP. */
export const CALLER_SETTINGS: readonly AnySetting[] = [
  {
    name: "TLS_CERT_FILE",
    key: "tlsCertFile",
    parse: parseReadableFile,
    description:
      "PEM certificate chain to serve TLS with (needs SESSIOND_TLS_KEY_FILE); re-read on change and on SIGHUP.",
  },
  {
    name: "TLS_KEY_FILE",
    key: "tlsKeyFile",
    parse: parseReadableFile,
    description: "PEM private key of SESSIOND_TLS_CERT_FILE.",
  },
  {
    name: "TLS_CLIENT_CA_FILE",
    key: "tlsClientCaFile",
    parse: parseReadableFile,
    description:
      "mTLS: PEM CA certificates; every client must present a certificate they signed, or the handshake fails.",
  },
  {
    name: "TLS_CLIENT_NAMES",
    key: "tlsClientNames",
    parse: parseNameList,
    description:
      "mTLS: comma-separated subject CNs or DNS SANs allowed; a client certificate naming none of them is UNAUTHENTICATED.",
  },
  {
    name: "AUTH_TOKENS_FILE",
    key: "authTokensFile",
    parse: parseReadableFile,
    description:
      "Caller tokens, one per line with its scopes (TOKEN read,write; scopes read, write, admin); re-read on change and on SIGHUP.",
  },
  {
    name: "AUTH_HEALTH",
    key: "authHealth",
    default: "false",
    parse: parseBoolean,
    boolean: true,
    description: "Health checks need a token (any scope) and an allowed client name too.",
  },
  {
    name: "REFLECTION",
    key: "reflection",
    default: "auto",
    parse: (raw) => parseChoice(raw, REFLECTION_SETTINGS),
    description: "Serve gRPC server reflection: on, off, or auto (on when --host is loopback).",
  },
  {
    name: "ALLOW_INSECURE",
    key: "allowInsecure",
    default: "false",
    parse: parseBoolean,
    boolean: true,
    description:
      "Listen on a non-loopback address with neither TLS nor tokens (logged as a warning).",
  },
];
