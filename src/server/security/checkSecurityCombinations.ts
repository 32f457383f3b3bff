import type { ServerConfig } from "../config/ServerConfig.js";
import { isLoopbackHost } from "./isLoopbackHost.js";

/** The settings that decide who may call and over what. */
export type SecuritySettings = Pick<
  ServerConfig,
  | "host"
  | "tlsCertFile"
  | "tlsKeyFile"
  | "tlsClientCaFile"
  | "tlsClientNames"
  | "authTokensFile"
  | "allowInsecure"
>;

/**
 * The one-line reason these settings cannot start a server, or undefined. Secure by
 * default: an address other machines can reach needs TLS or tokens, or an explicit
 * --allow-insecure.
 */
export function checkSecurityCombinations(config: SecuritySettings): string | undefined {
  if ((config.tlsCertFile === undefined) !== (config.tlsKeyFile === undefined)) {
    return "SESSIOND_TLS_CERT_FILE (--tls-cert-file) and SESSIOND_TLS_KEY_FILE (--tls-key-file): expected both or neither";
  }
  if (config.tlsClientCaFile !== undefined && config.tlsCertFile === undefined) {
    return "SESSIOND_TLS_CLIENT_CA_FILE (--tls-client-ca-file): mTLS needs TLS; set --tls-cert-file and --tls-key-file too";
  }
  if (config.tlsClientNames !== undefined && config.tlsClientCaFile === undefined) {
    return "SESSIOND_TLS_CLIENT_NAMES (--tls-client-names): names are checked on client certificates; set --tls-client-ca-file too";
  }
  const secured = config.tlsCertFile !== undefined || config.authTokensFile !== undefined;
  if (!isLoopbackHost(config.host) && !secured && !config.allowInsecure) {
    return `--host ${config.host} is reachable from the network but neither TLS nor tokens are set: give --tls-cert-file and --tls-key-file, or --auth-tokens-file, or --allow-insecure to serve it in the clear anyway`;
  }
  return undefined;
}

/** What is allowed but worth a warning at start. */
export function securityWarnings(config: SecuritySettings): string[] {
  if (isLoopbackHost(config.host) || config.tlsCertFile !== undefined) return [];
  if (config.authTokensFile !== undefined) {
    return [
      `listening on ${config.host} without TLS: caller tokens, session ids and session data cross the network in the clear`,
    ];
  }
  return [
    `--allow-insecure: listening on ${config.host} without TLS or tokens; anyone who reaches the port can read, write and destroy every session`,
  ];
}
