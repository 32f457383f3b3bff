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
import type { TokenSet } from "./TokenSet.js";

export interface CallerPolicy {
  /** The tokens in force now (they change on reload); undefined: no tokens asked for. */
  tokens(): TokenSet | undefined;
  /** Subject CNs / DNS SANs a client certificate must name one of; undefined: any. */
  clientNames?: ReadonlySet<string>;
  /** Health checks need a token and an allowed name like everything else. */
  authHealth: boolean;
  /** Told of every refused call (for a rate-limited log line). */
  onRefused?: (method: string, code: string, reason: string) => void;
  /** Told of every call that passed the check (its connection has a proven caller). */
  onAccepted?: (call: ServerInterceptingCallInterface) => void;
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
            try {
              checkCaller(policy, requirement, method.path, metadata, call);
            } catch (err) {
              // Never passed on: the handler does not start; grpc-js drops the request.
              const refusal = toStatus(err);
              policy.onRefused?.(method.path, status[refusal.code], refusal.details);
              call.sendStatus({ ...refusal, metadata: null });
              return;
            }
            policy.onAccepted?.(call);
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
): void {
  if (policy.clientNames !== undefined) {
    checkClientName(policy.clientNames, call.getAuthContext().sslPeerCertificate);
  }
  const tokens = policy.tokens();
  if (tokens === undefined) return;
  const values = metadata.get("authorization");
  if (values.length === 0) {
    throw unauthenticated("missing authorization metadata: expected authorization: Bearer TOKEN");
  }
  if (values.length > 1) throw unauthenticated("more than one authorization metadata entry");
  const match = /^Bearer +(\S+)$/i.exec(String(values[0]).trim());
  if (match === null) {
    throw unauthenticated("authorization metadata must be Bearer followed by a token");
  }
  const scopes = tokens.scopesOf(match[1] as string);
  if (scopes === undefined) throw unauthenticated("unknown or revoked token");
  if (requirement !== "any-token" && !scopes.has(requirement)) {
    throw new ServerError(
      status.PERMISSION_DENIED,
      `this token lacks the "${requirement}" scope that ${path.slice(1)} needs`,
    );
  }
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
