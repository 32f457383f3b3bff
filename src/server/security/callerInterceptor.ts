import type { PeerCertificate } from "node:tls";
import {
  type Metadata,
  ServerInterceptingCall,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status,
} from "@grpc/grpc-js";
import { ServerError } from "../../grpc/ServerError.js";
import { toStatus } from "../../grpc/toStatus.js";
import { type Requirement, requirementOf } from "./methodScopes.js";
import type { Scope, TokenSet } from "./TokenSet.js";

export interface CallerPolicy {
  /** The tokens in force now (they change on reload); undefined: no tokens asked for. */
  tokens(): TokenSet | undefined;
  /** Subject CNs / DNS SANs a client certificate must name one of; undefined: any. */
  clientNames?: ReadonlySet<string>;
  /** Health checks need a token and an allowed name like everything else. */
  authHealth: boolean;
  /** Told of every refused call (for a rate-limited log line). */
  onRefused?: (method: string, code: string, reason: string) => void;
  /**
   * Told of every admitted call: its intercepted call (whose connection now has a proven
   * caller), and the metadata instance the handler will see as call.metadata (grpc-js has
   * no per-call context; see CallerSecurity#callerOf).
   */
  onAdmitted?: (call: ServerInterceptingCallInterface, metadata: Metadata, caller: Caller) => void;
}

/** Who an admitted call comes from, as far as the checks tell. */
export interface Caller {
  /**
   * Stable across the caller's calls: its token's digest and/or its client certificate's
   * names; undefined when nothing identifies callers (all are one).
   */
  identity: string | undefined;
  /** The token's scopes; undefined without tokens (every caller may do everything). */
  scopes: ReadonlySet<Scope> | undefined;
}

/**
 * The caller check, the first thing every call meets after the transport guard: it runs
 * on the request headers, before the session interceptor, a handler or a storage sees the
 * call, and answers a refused call with UNAUTHENTICATED (no, unknown or malformed token;
 * a client certificate with none of the allowed names) or PERMISSION_DENIED (a token
 * without the method's scope). Tokens appear in no message and no log line.
 */
export function callerInterceptor(policy: CallerPolicy): ServerInterceptor {
  return (method, call) => {
    const requirement = requirementOf(method.path, policy.authHealth);
    if (requirement === "open") return new ServerInterceptingCall(call);
    return new ServerInterceptingCall(call, {
      start(next) {
        next({
          onReceiveMetadata(metadata, pass) {
            let caller: Caller;
            try {
              caller = checkCaller(policy, requirement, method.path, metadata, call);
            } catch (err) {
              // Never passed on: the handler does not start; grpc-js drops the request.
              const refusal = toStatus(err);
              policy.onRefused?.(method.path, status[refusal.code], refusal.details);
              call.sendStatus({ ...refusal, metadata: null });
              return;
            }
            policy.onAdmitted?.(call, metadata, caller);
            pass(metadata);
          },
        });
      },
    });
  };
}

function checkCaller(
  policy: CallerPolicy,
  requirement: Exclude<Requirement, "open">,
  path: string,
  metadata: Metadata,
  call: ServerInterceptingCallInterface,
): Caller {
  const cert = call.getAuthContext().sslPeerCertificate;
  if (policy.clientNames !== undefined) checkClientName(policy.clientNames, cert);
  const certIdentity = cert === undefined ? undefined : certificateIdentity(cert);
  const tokens = policy.tokens();
  if (tokens === undefined) return { identity: certIdentity, scopes: undefined };
  const values = metadata.get("authorization");
  if (values.length === 0) {
    throw unauthenticated("missing authorization metadata: expected authorization: Bearer TOKEN");
  }
  if (values.length > 1) throw unauthenticated("more than one authorization metadata entry");
  const match = /^Bearer +(\S+)$/i.exec(String(values[0]).trim());
  if (match === null) {
    throw unauthenticated("authorization metadata must be Bearer followed by a token");
  }
  const entry = tokens.find(match[1] as string);
  if (entry === undefined) throw unauthenticated("unknown or revoked token");
  const { scopes } = entry;
  const missing = requirement === "any-token" ? undefined : requirement.find((s) => !scopes.has(s));
  if (missing !== undefined) {
    throw new ServerError(
      status.PERMISSION_DENIED,
      `this token lacks the "${missing}" scope that ${path.slice(1)} needs`,
    );
  }
  const token = `token:${entry.digest}`;
  return { identity: certIdentity === undefined ? token : `${certIdentity} ${token}`, scopes };
}

/**
 * A client certificate as a caller: its names (what --tls-client-names admits by), so a
 * renewed certificate is the same caller; its fingerprint when it names nothing.
 */
function certificateIdentity(cert: PeerCertificate): string {
  const names = [...new Set(certificateNames(cert))].sort();
  return names.length > 0 ? `cert:${JSON.stringify(names)}` : `cert-sha256:${cert.fingerprint256}`;
}

function checkClientName(allowed: ReadonlySet<string>, cert: PeerCertificate | undefined): void {
  if (cert === undefined) throw unauthenticated("no verified client certificate");
  const names = certificateNames(cert);
  if (!names.some((name) => allowed.has(name))) {
    throw unauthenticated(
      `client certificate names ${names.join(", ") || "nothing"}, none of them allowed by --tls-client-names`,
    );
  }
}

/** The subject CNs and DNS subject alternative names of a certificate. */
export function certificateNames(cert: PeerCertificate): string[] {
  const cn = cert.subject?.CN as string | string[] | undefined;
  const names = cn === undefined ? [] : Array.isArray(cn) ? [...cn] : [cn];
  for (const entry of (cert.subjectaltname ?? "").split(", ")) {
    if (!entry.startsWith("DNS:")) continue;
    const value = entry.slice(4);
    // Node writes a name with unusual characters as a JSON string.
    names.push(value.startsWith('"') ? (JSON.parse(value) as string) : value);
  }
  return names;
}

function unauthenticated(details: string): ServerError {
  return new ServerError(status.UNAUTHENTICATED, details);
}
