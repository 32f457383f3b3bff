// `sessiond/storage-kit`: what a storage author needs, in one place. Build on the engine
// (a DocumentStore of a few methods; SessionEngine supplies every session rule), or
// implement Storage yourself with the same helpers the shipped storages use; then hold the
// result to the conformance suite and the differential test (both here too; they load
// node:test, which does nothing until a test is registered).

export { ConfigError } from "../core/ConfigError.js";
export type {
  DocumentStore,
  Loaded,
  LoadOptions,
  LockScope,
  RecordRef,
  SessionChange,
  SessionDoc,
  Write,
} from "../core/engine/DocumentStore.js";
export { SessionEngine } from "../core/engine/SessionEngine.js";
export type { JsonValue, SessionData } from "../core/json.js";
export { assignKey, cloneJson, ownValue } from "../core/json.js";
export type { Limits } from "../core/Limits.js";
export { checkOpCount, checkSessionSize, sizeRefusal } from "../core/Limits.js";
export type { Refusal, ValueKind } from "../core/Refusal.js";
export { refusalError } from "../core/Refusal.js";
export type { ErrorCode } from "../core/SessionError.js";
export { SessionError } from "../core/SessionError.js";
export type { Applied, Outcome } from "../core/storage/applyOps.js";
export {
  accepted,
  applyDelta,
  applyOps,
  assertExpectedVersion,
  assertExpiry,
  increment,
  sessionBytes,
  tryApplyOps,
  versionRefusal,
} from "../core/storage/applyOps.js";
export {
  abortable,
  CallCancellation,
  callAborted,
  cancelledError,
  throwIfCancelled,
  toAbortSignal,
} from "../core/storage/cancellation.js";
export type { CapabilityKey } from "../core/storage/capabilities.js";
export {
  BUDGETED,
  CapabilitySet,
  capabilityKey,
  capabilityOf,
  EXPIRY_COUNTED,
  SHARDED,
} from "../core/storage/capabilities.js";
export { KeyedLock } from "../core/storage/KeyedLock.js";
export type { RequestRecord } from "../core/storage/requestRecords.js";
export {
  assertIdempotency,
  isLive,
  isRecordedCode,
  parseRecords,
  pruneRecords,
  recordOf,
  refusalRecord,
  replay,
  reusedRequestId,
  textRefusal,
} from "../core/storage/requestRecords.js";
export type * from "../core/storage/Storage.js";
export { expireAt, MAX_REQUEST_RECORDS } from "../core/storage/Storage.js";
export { StorageDecorator } from "../core/storage/StorageDecorator.js";
export { isSafeId, SAFE_ID } from "../core/storage/safeId.js";
export {
  type DifferentialTarget,
  describeStorageConformance,
  MapDocumentStore,
  runDifferential,
  SpecStorage,
  type StorageTarget,
} from "../testing/index.js";
