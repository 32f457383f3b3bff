import { WireType } from "@bufbuild/protobuf/wire";

const WIRE_TYPE_NAMES: Record<WireType, string> = {
  [WireType.Varint]: "varint",
  [WireType.Bit64]: "64-bit",
  [WireType.LengthDelimited]: "length-delimited",
  [WireType.StartGroup]: "start-group",
  [WireType.EndGroup]: "end-group",
  [WireType.Bit32]: "32-bit",
};

/** "varint", "length-delimited", …: for messages that tell a caller what arrived. */
export function wireTypeName(type: WireType): string {
  return WIRE_TYPE_NAMES[type] ?? `wire type ${type}`;
}
