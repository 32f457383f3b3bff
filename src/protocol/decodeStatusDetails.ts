import { BinaryReader } from "@bufbuild/protobuf/wire";
import { ERROR_INFO_TYPE_URL, type ErrorInfo } from "./ErrorInfo.js";

/** google.rpc.Status as far as sessiond reads it: its ErrorInfo details, in order. */
export interface StatusDetails {
  code: number;
  message: string;
  errorInfos: ErrorInfo[];
}

/**
 * Reads a google.rpc.Status (see ErrorInfo.ts), hand-written as the health and reflection
 * messages are: two tiny messages do not justify a generated runtime; details other than ErrorInfo (and unknown fields) are
 * skipped. Undefined when the bytes are not a Status.
 */
export function decodeStatusDetails(bytes: Uint8Array): StatusDetails | undefined {
  try {
    const reader = new BinaryReader(bytes);
    const out: StatusDetails = { code: 0, message: "", errorInfos: [] };
    while (reader.pos < reader.len) {
      const [field, wireType] = reader.tag();
      if (field === 1 && wireType === 0) out.code = reader.int32();
      else if (field === 2 && wireType === 2) out.message = reader.string();
      else if (field === 3 && wireType === 2) {
        const info = decodeAnyErrorInfo(reader.bytes());
        if (info !== undefined) out.errorInfos.push(info);
      } else reader.skip(wireType, field);
    }
    return out;
  } catch {
    return undefined;
  }
}

function decodeAnyErrorInfo(bytes: Uint8Array): ErrorInfo | undefined {
  const reader = new BinaryReader(bytes);
  let typeUrl = "";
  let value: Uint8Array | undefined;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 2) typeUrl = reader.string();
    else if (field === 2 && wireType === 2) value = reader.bytes();
    else reader.skip(wireType, field);
  }
  if (typeUrl !== ERROR_INFO_TYPE_URL || value === undefined) return undefined;
  return decodeErrorInfo(value);
}

function decodeErrorInfo(bytes: Uint8Array): ErrorInfo {
  const reader = new BinaryReader(bytes);
  const info: ErrorInfo = { reason: "", domain: "", metadata: {} };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === 2) info.reason = reader.string();
    else if (field === 2 && wireType === 2) info.domain = reader.string();
    else if (field === 3 && wireType === 2) {
      const entry = new BinaryReader(reader.bytes());
      let key = "";
      let value = "";
      while (entry.pos < entry.len) {
        const [f, w] = entry.tag();
        if (f === 1 && w === 2) key = entry.string();
        else if (f === 2 && w === 2) value = entry.string();
        else entry.skip(w, f);
      }
      // An own property even for "__proto__": a map's keys are data.
      Object.defineProperty(info.metadata, key, {
        value,
        enumerable: true,
        writable: true,
        configurable: true,
      });
    } else reader.skip(wireType, field);
  }
  return info;
}
