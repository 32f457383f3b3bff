// `sessiond/client`: the Node SDK for a sessiond server. Loads no storage and no Redis client.

export type { ErrorReason } from "../core/ErrorReason.js";
export { ERROR_DOMAIN, ERROR_REASONS } from "../core/ErrorReason.js";
export type { JsonValue, SessionData } from "../core/json.js";
export type { ErrorCode } from "../core/SessionError.js";
export { SessionError } from "../core/SessionError.js";
export { DEFAULT_METADATA_KEY } from "../protocol/metadataKey.js";
export type {
  ProtoLoaderValue,
  ProtoLoaderValueKind,
  ToValueOptions,
} from "../protocol/protoLoaderValue.js";
export { fromValue, toValue } from "../protocol/protoLoaderValue.js";
export type { ClientTlsOptions, Pem, TokenOption } from "./connectionOptions.js";
export type { SessionErrorInfo } from "./reasonOf.js";
export { reasonOf } from "./reasonOf.js";
export type { SessionClientOptions } from "./SessionClient.js";
export { DEFAULT_DEADLINE_MS, SessionClient } from "./SessionClient.js";
export type {
  CallOptions,
  SessionCallError,
  SessionDescription,
  WriteOptions,
  WriteResult,
} from "./SessionHandle.js";
export { SessionHandle } from "./SessionHandle.js";
