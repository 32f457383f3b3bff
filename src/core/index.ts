// `sessiond`: sessions without gRPC and without disk. Manager and Session for handlers, the
// Storage contract and its helpers for storage authors, and the in-memory storage.
export { ConfigError } from "./ConfigError.js";
export type { ErrorReason } from "./ErrorReason.js";
export { ERROR_DOMAIN, ERROR_REASONS, isErrorReason } from "./ErrorReason.js";
export type { JsonValue, SessionData } from "./json.js";
export { assignKey, ownValue } from "./json.js";
export type { Limits } from "./Limits.js";
export { checkSessionSize, defaultLimits, resolveLimits } from "./Limits.js";
export type { Logger } from "./Logger.js";
export { AdoptableLogger, jsonLogger, silentLogger } from "./Logger.js";
export type { MemoryStorageOptions } from "./memory/MemoryStorage.js";
export { MemoryStorage } from "./memory/MemoryStorage.js";
export type { ErrorCode, SessionErrorOptions } from "./SessionError.js";
export { SessionError } from "./SessionError.js";
export { isValidSessionId, newSessionId } from "./session/ids.js";
export type { ManagerOptions } from "./session/Manager.js";
export { DEFAULT_TTL_MS, Manager } from "./session/Manager.js";
export type { CommitOptions, SessionInfo } from "./session/Session.js";
export { Session } from "./session/Session.js";
export {
  applyOps,
  assertExpectedVersion,
  assertExpiry,
  sessionBytes,
} from "./storage/applyOps.js";
export {
  abortable,
  CallCancellation,
  type CancelStage,
  callAborted,
  cancelledError,
  throwIfCancelled,
  toAbortSignal,
} from "./storage/cancellation.js";
export type {
  Budgeted,
  BudgetUsage,
  CapabilityHolder,
  CapabilityKey,
  ExpiryCounted,
  LoggerTarget,
  RequestIdSecretProvider,
  Sharded,
} from "./storage/capabilities.js";
export {
  BUDGETED,
  CapabilitySet,
  capabilityKey,
  capabilityOf,
  EXPIRY_COUNTED,
  LOGGER_TARGET,
  REQUEST_ID_SECRET,
  SHARDED,
} from "./storage/capabilities.js";
export type { IdHashKeyLookup, IdHashKeySource } from "./storage/HashedIdStorage.js";
export { HashedIdStorage } from "./storage/HashedIdStorage.js";
export { KeyRing } from "./storage/KeyRing.js";
export type * from "./storage/Storage.js";
export { expireAt } from "./storage/Storage.js";
export { StorageDecorator } from "./storage/StorageDecorator.js";
