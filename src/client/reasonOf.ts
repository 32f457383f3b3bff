import type { Metadata } from "@grpc/grpc-js";
import { ERROR_DOMAIN, type ErrorReason } from "../core/ErrorReason.js";
import { decodeStatusDetails } from "../protocol/decodeStatusDetails.js";
import { type ErrorInfo, STATUS_DETAILS_KEY } from "../protocol/ErrorInfo.js";

/** What sessiond said about a failed call: its reason (see ERROR_REASONS), domain and metadata. */
export interface SessionErrorInfo extends ErrorInfo {
  reason: ErrorReason | (string & {});
}

/**
 * The google.rpc.ErrorInfo of a failed call, from its `grpc-status-details-bin` trailer:
 * sessiond's (domain "sessiond") when there is one, else the first; undefined when the
 * status carries none (a transport failure, a status from a proxy, an internal error).
 * Takes grpc-js's ServiceError, or anything with the trailers as `metadata`, so plain
 * grpc-js and proto-loader clients can use it too:
 *
 *   client.set(req, md, (err) => { if (reasonOf(err)?.reason === "VERSION_MISMATCH") … })
 */
export function reasonOf(err: unknown): SessionErrorInfo | undefined {
  const trailers = (err as { metadata?: unknown } | null | undefined)?.metadata;
  if (typeof (trailers as Metadata | undefined)?.get !== "function") return undefined;
  for (const value of (trailers as Metadata).get(STATUS_DETAILS_KEY)) {
    if (!(value instanceof Uint8Array)) continue;
    const infos = decodeStatusDetails(value)?.errorInfos ?? [];
    const info = infos.find((i) => i.domain === ERROR_DOMAIN) ?? infos[0];
    if (info !== undefined) return info;
  }
  return undefined;
}
