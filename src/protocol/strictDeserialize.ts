import { isUtf8 } from "node:buffer";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { SessionError } from "../core/SessionError.js";
import { MAX_JSON_DEPTH } from "../core/session/validate.js";
import { JsonFieldSplit, jsonFieldsOf } from "./jsonFields.js";
import type { MessageField, MessageFields } from "./messageFields.js";
import { notUtf8, WireProblem } from "./WireProblem.js";
import { wireTypeName } from "./wireTypeName.js";

const PROBLEM = Symbol("sessiond.requestProblem");

/** What a strict deserializer hands the handler instead of a message it must refuse. */
interface Refused {
  [PROBLEM]: string;
}

/**
 * Wraps a generated request deserializer with a pass over the raw bytes that refuses what
 * the generated decoder would let through changed or not at all: fields the message does
 * not declare (or with the wrong wire type), a singular message field sent twice
 * (protobuf would merge the two), `string` fields that are not UTF-8 (it would turn the
 * bad bytes into U+FFFD), and the problems decodeJsonWire lists inside Value and Struct
 * fields, which that pass decodes itself, exactly. grpc-js answers a deserializer that
 * throws with INTERNAL, so a refusal is handed to the handler instead, which answers
 * INVALID_ARGUMENT with it (assertWellFormedRequest).
 */
export function strictDeserialize<T>(
  deserialize: (bytes: Buffer) => T,
  message: MessageFields,
): (bytes: Buffer) => T {
  const json = jsonFieldsOf(message);
  return (bytes) => {
    try {
      return decodeStrictly(bytes, deserialize, message, json);
    } catch (err) {
      const problem =
        err instanceof WireProblem
          ? err.message
          : `malformed request: ${err instanceof Error ? err.message : String(err)}`;
      return { [PROBLEM]: problem } as Refused as T;
    }
  };
}

/** Throws invalid_argument when the strict deserializer refused the request's bytes. */
export function assertWellFormedRequest(request: object): void {
  const problem = (request as Partial<Refused>)[PROBLEM];
  if (problem !== undefined) {
    throw new SessionError("invalid_argument", problem, { reason: "INVALID_REQUEST" });
  }
}

function decodeStrictly<T>(
  bytes: Buffer,
  deserialize: (bytes: Buffer) => T,
  { typeName, fields }: MessageFields,
  json: ReturnType<typeof jsonFieldsOf>,
): T {
  /** Created at the first Value or Struct field: most requests have none. */
  let split: JsonFieldSplit | undefined;
  /** Singular message fields seen so far (this API's messages have a handful of fields). */
  let seen: number[] | undefined;
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const start = reader.pos;
    const [number, type] = reader.tag();
    const field = fields.get(number);
    if (field === undefined) {
      throw new WireProblem(
        `unknown field ${number} in ${typeName}: this server does not support it (is the client built from a newer sessiond.v1 proto?)`,
      );
    }
    if (!field.wireTypes.includes(type)) {
      throw new WireProblem(
        `${named(field, number, typeName)} arrived as ${wireTypeName(type)}, expected ${field.wireTypes.map(wireTypeName).join(" or ")}`,
      );
    }
    if (field.messageType !== undefined && !field.repeated) {
      if (seen === undefined) seen = [number];
      else if (!seen.includes(number)) seen.push(number);
      else {
        throw new WireProblem(
          `${named(field, number, typeName)} appears twice; a message field sent twice is refused, not merged`,
        );
      }
    }
    const jsonField = json.get(number);
    if (jsonField !== undefined) {
      split ??= new JsonFieldSplit(bytes, typeName, MAX_JSON_DEPTH);
      split.add(start, jsonField, reader.bytes(), reader.pos);
    } else if (field.isString) {
      const text = reader.bytes();
      if (!isUtf8Text(text)) {
        const what = named(field, number, typeName);
        throw notUtf8(field.repeated ? `an element of ${what}` : what, text);
      }
    } else {
      if (type === WireType.Varint && !varintFits64(bytes, reader.pos)) {
        // The generated decoder would silently keep the low 64 bits (an expected_version
        // of 2^64 + 1 would read as 1).
        throw new WireProblem(`${named(field, number, typeName)} is a varint longer than 64 bits`);
      }
      reader.skip(type, number);
    }
  }
  return split === undefined ? deserialize(bytes) : split.decode(deserialize);
}

function named(field: MessageField, number: number, typeName: string): string {
  return `field ${field.name} (${number}) of ${typeName}`;
}

/** isUtf8, with the common case of a short ASCII key decided without a native call. */
function isUtf8Text(bytes: Uint8Array): boolean {
  if (bytes.length > 64) return isUtf8(bytes);
  for (let i = 0; i < bytes.length; i++) if ((bytes[i] as number) > 0x7f) return isUtf8(bytes);
  return true;
}

/** Whether the varint at `pos` fits 64 bits: at most ten bytes, the tenth holding one bit. */
function varintFits64(bytes: Uint8Array, pos: number): boolean {
  for (let i = 0; i < 10; i++) {
    const b = bytes[pos + i];
    if (b === undefined) return true; // truncated: the reader reports that itself
    if (b < 0x80) return i < 9 || b <= 1;
  }
  return false;
}
