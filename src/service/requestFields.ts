import { readFileSync } from "node:fs";
import { fromBinary } from "@bufbuild/protobuf";
import { WireType } from "@bufbuild/protobuf/wire";
import {
  type DescriptorProto,
  type FieldDescriptorProto,
  FieldDescriptorProto_Label,
  FileDescriptorSetSchema,
  FieldDescriptorProto_Type as T,
} from "@bufbuild/protobuf/wkt";

/** The fields one request message declares, by field number, with the wire types they may use. */
export interface RequestFields {
  /** Fully-qualified message name, for error messages. */
  readonly typeName: string;
  readonly fields: ReadonlyMap<number, { readonly name: string; readonly wireTypes: WireType[] }>;
}

const DESCRIPTORS_URL = new URL("../gen/descriptors.binpb", import.meta.url);

/**
 * The request fields of every method of `service`, keyed by the method's path
 * ("/sessiond.v1.SessionService/Set"), read from the `buf build` descriptor set that
 * `npm run gen` writes next to the generated code. The generated decoder skips fields it
 * does not know without a word; this is what lets the strict definition refuse them.
 */
export function requestFieldsByPath(
  service: string,
  descriptorSet: Uint8Array = readFileSync(DESCRIPTORS_URL),
): Map<string, RequestFields> {
  const messages = new Map<string, DescriptorProto>();
  let methods: { name: string; inputType: string }[] | undefined;
  for (const file of fromBinary(FileDescriptorSetSchema, descriptorSet).file) {
    const prefix = file.package ? `${file.package}.` : "";
    for (const m of file.messageType) messages.set(prefix + m.name, m);
    for (const s of file.service) if (prefix + s.name === service) methods = s.method;
  }
  if (methods === undefined) throw new Error(`descriptor set does not describe ${service}`);
  const out = new Map<string, RequestFields>();
  for (const method of methods) {
    const typeName = method.inputType.replace(/^\./, "");
    const message = messages.get(typeName);
    if (message === undefined) throw new Error(`descriptor set lacks ${typeName}`);
    const fields = new Map(
      message.field.map((f) => [f.number, { name: f.name, wireTypes: wireTypesOf(f) }]),
    );
    out.set(`/${service}/${method.name}`, { typeName, fields });
  }
  return out;
}

function wireTypesOf(field: FieldDescriptorProto): WireType[] {
  const scalar = scalarWireType(field.type);
  // A repeated number may arrive packed (one length-delimited run) or one per tag.
  const repeated = field.label === FieldDescriptorProto_Label.REPEATED;
  return repeated && scalar !== WireType.LengthDelimited
    ? [scalar, WireType.LengthDelimited]
    : [scalar];
}

function scalarWireType(type: T): WireType {
  switch (type) {
    case T.DOUBLE:
    case T.FIXED64:
    case T.SFIXED64:
      return WireType.Bit64;
    case T.FLOAT:
    case T.FIXED32:
    case T.SFIXED32:
      return WireType.Bit32;
    case T.STRING:
    case T.BYTES:
    case T.MESSAGE:
      return WireType.LengthDelimited;
    case T.GROUP:
      return WireType.StartGroup;
    default:
      return WireType.Varint;
  }
}
