/**
 * The rich error model on the wire: a `google.rpc.Status` (code, message, details) in the
 * `grpc-status-details-bin` trailer, its details holding one `google.rpc.ErrorInfo`
 * packed in an Any. Every gRPC library can read it (grpcio-status, grpc-go's status
 * package, …). The server writes it with encodeStatusDetails, clients read it with
 * decodeStatusDetails; this module loads nothing, so the grpc layer can name it.
 */

/** The trailer every gRPC implementation reads the rich status from. */
export const STATUS_DETAILS_KEY = "grpc-status-details-bin";

export const ERROR_INFO_TYPE_URL = "type.googleapis.com/google.rpc.ErrorInfo";

/** google.rpc.ErrorInfo: why a call failed, as a reason a client can branch on. */
export interface ErrorInfo {
  reason: string;
  domain: string;
  metadata: Record<string, string>;
}
