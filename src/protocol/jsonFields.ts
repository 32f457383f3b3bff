import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import type { JsonValue } from "../core/json.js";
import { MAX_STORED_JSON_DEPTH } from "../core/session/validate.js";
import { decodeStruct, decodeValue } from "./decodeJsonWire.js";
import { appendJsonFields, type JsonFieldValue } from "./encodeJsonWire.js";
import type { MessageFields } from "./messageFields.js";
import { WireProblem } from "./WireProblem.js";

/**
 * A singular google.protobuf.Value or Struct field of a message: coded by
 * decodeJsonWire/encodeJsonWire, exactly, while the generated code handles the rest.
 */
export interface JsonField {
  readonly number: number;
  /** The proto name, for error messages ("value", "data"). */
  readonly name: string;
  /** The generated code's property. */
  readonly property: string;
  readonly struct: boolean;
}

export function jsonFieldsOf({ fields }: MessageFields): Map<number, JsonField> {
  const out = new Map<number, JsonField>();
  for (const [number, f] of fields) {
    const struct = f.messageType === "google.protobuf.Struct";
    if (!f.repeated && (struct || f.messageType === "google.protobuf.Value")) {
      out.set(number, { number, name: f.name, property: f.property, struct });
    }
  }
  return out;
}

export function decodeJsonField(field: JsonField, bytes: Uint8Array, maxDepth: number): JsonValue {
  return field.struct
    ? decodeStruct(bytes, field.name, maxDepth)
    : decodeValue(bytes, field.name, maxDepth);
}

/** Wraps a generated serializer: the JSON fields are written exactly, the rest as before. */
export function exactSerialize<T>(
  serialize: (message: T) => Buffer,
  message: MessageFields,
): (message: T) => Buffer {
  const json = [...jsonFieldsOf(message).values()];
  if (json.length === 0) return serialize;
  const others: string[] = [];
  for (const f of message.fields.values()) {
    if (!json.some((j) => j.property === f.property)) others.push(f.property);
  }
  return (m) => {
    // The other fields, copied one by one: a spread would carry the JSON fields along.
    const source = m as Record<string, unknown>;
    const rest: Record<string, unknown> = {};
    for (const property of others) rest[property] = source[property];
    const present: JsonFieldValue[] = [];
    for (const f of json) {
      const value = source[f.property];
      if (value !== undefined) {
        present.push({
          number: f.number,
          struct: f.struct,
          value: value as JsonFieldValue["value"],
        });
      }
    }
    return appendJsonFields(serialize(rest as T), present);
  };
}

/**
 * Wraps a generated deserializer: the JSON fields are decoded exactly (a problem with one
 * throws), the rest by the generated code, which skips fields it does not know, as a
 * client reading a newer server's responses should.
 */
export function exactDeserialize<T>(
  deserialize: (bytes: Buffer) => T,
  message: MessageFields,
): (bytes: Buffer) => T {
  const fields = jsonFieldsOf(message);
  if (fields.size === 0) return deserialize;
  return (bytes) => {
    // A response may carry a value an older sessiond accepted (up to 64 levels): read it.
    const split = new JsonFieldSplit(bytes, message.typeName, MAX_STORED_JSON_DEPTH);
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const start = reader.pos;
      const [number, type] = reader.tag();
      const field = fields.get(number);
      if (field !== undefined && type === WireType.LengthDelimited) {
        split.add(start, field, reader.bytes(), reader.pos);
      } else reader.skip(type, number);
    }
    return split.decode(deserialize);
  };
}

/**
 * A message's bytes parted into its JSON fields, decoded, and the bytes of all the other
 * fields, which go to the generated decoder. Costs nothing for a message without JSON
 * fields: then the generated decoder gets the bytes as they came.
 */
export class JsonFieldSplit {
  readonly #bytes: Buffer;
  readonly #typeName: string;
  #values: [JsonField, JsonValue][] | undefined;
  #rest: Uint8Array[] | undefined;
  /** Where the run of bytes not yet cut out starts. */
  #from = 0;
  readonly #maxDepth: number;

  /** `maxDepth`: how deep the JSON values may nest (see decodeValue). */
  constructor(bytes: Buffer, typeName: string, maxDepth: number) {
    this.#bytes = bytes;
    this.#typeName = typeName;
    this.#maxDepth = maxDepth;
  }

  /** The field `field` occupies bytes start..end of the message; `value` is its content. */
  add(start: number, field: JsonField, value: Uint8Array, end: number): void {
    this.#values ??= [];
    for (const [seen] of this.#values) {
      if (seen === field) {
        throw new WireProblem(
          `field ${field.name} (${field.number}) of ${this.#typeName} appears twice; a message field sent twice is refused, not merged`,
        );
      }
    }
    this.#values.push([field, decodeJsonField(field, value, this.#maxDepth)]);
    this.#rest ??= [];
    if (start > this.#from) this.#rest.push(this.#bytes.subarray(this.#from, start));
    this.#from = end;
  }

  decode<T>(deserialize: (bytes: Buffer) => T): T {
    if (this.#values === undefined || this.#rest === undefined) return deserialize(this.#bytes);
    if (this.#from < this.#bytes.length) this.#rest.push(this.#bytes.subarray(this.#from));
    const message = deserialize(Buffer.concat(this.#rest));
    for (const [field, value] of this.#values) {
      (message as Record<string, unknown>)[field.property] = value;
    }
    return message;
  }
}
