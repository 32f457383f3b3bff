import type { SecureContextOptions } from "node:tls";
import { ServerCredentials } from "@grpc/grpc-js";

/**
 * TLS server credentials whose certificate can change while the server runs. grpc-js
 * (>= 1.10) watches a ServerCredentials for new secure-context options and hands them to
 * each listener's setSecureContext(): new handshakes use them, connections already open
 * keep theirs, so calls in flight are untouched. Only options already checked by
 * loadTlsFiles() may be given to update(): on an update Node refuses, grpc-js would stop
 * accepting connections altogether.
 */
export class ReloadableServerCredentials extends ServerCredentials {
  /**
   * `handshakeTimeoutMs` replaces Node's 120 s for a TLS handshake (TransportGuard's own
   * deadline, from accept to the HTTP/2 preface, covers it too).
   */
  constructor(
    initial: SecureContextOptions,
    requireClientCertificate: boolean,
    handshakeTimeoutMs?: number,
  ) {
    super(
      {
        requestCert: requireClientCertificate,
        rejectUnauthorized: requireClientCertificate,
        ...(handshakeTimeoutMs === undefined ? {} : { handshakeTimeout: handshakeTimeoutMs }),
      },
      initial,
    );
  }

  update(options: SecureContextOptions): void {
    this.updateSecureContextOptions(options);
  }

  override _equals(other: ServerCredentials): boolean {
    return other === this;
  }
}
