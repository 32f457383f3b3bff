import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";

/** A response message read field by field: varints as bigint, length-delimited as bytes. */
export class ResponseFields {
  readonly #values = new Map<number, (bigint | Uint8Array | number)[]>();

  constructor(bytes: Uint8Array) {
    const reader = new BinaryReader(bytes);
    while (reader.pos < reader.len) {
      const [field, type] = reader.tag();
      let value: bigint | Uint8Array | number;
      if (type === WireType.Varint) value = BigInt(reader.uint64());
      else if (type === WireType.LengthDelimited) value = reader.bytes();
      else if (type === WireType.Bit64) value = reader.double();
      else throw new Error(`response field ${field} has wire type ${type}`);
      const list = this.#values.get(field) ?? [];
      list.push(value);
      this.#values.set(field, list);
    }
  }

  /** The field's single value; throws when it appears more than once. */
  get(field: number): bigint | Uint8Array | number | undefined {
    const list = this.#values.get(field);
    if (list === undefined) return undefined;
    if (list.length > 1) throw new Error(`response field ${field} appears ${list.length} times`);
    return list[0];
  }

  varint(field: number): bigint {
    const v = this.get(field);
    if (v === undefined) return 0n;
    if (typeof v !== "bigint") throw new Error(`response field ${field} is not a varint`);
    return v;
  }

  bytes(field: number): Uint8Array | undefined {
    const v = this.get(field);
    if (v !== undefined && !(v instanceof Uint8Array)) {
      throw new Error(`response field ${field} is not length-delimited`);
    }
    return v;
  }

  double(field: number): number {
    const v = this.get(field);
    if (v === undefined) return 0;
    if (typeof v !== "number") throw new Error(`response field ${field} is not a double`);
    return v;
  }

  string(field: number): string {
    const b = this.bytes(field);
    return b === undefined
      ? ""
      : new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(b);
  }
}
