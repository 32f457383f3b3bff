import { WireType } from "@bufbuild/protobuf/wire";
import { FieldDescriptorProto_Label, FieldDescriptorProto_Type as T } from "@bufbuild/protobuf/wkt";

/** One field of a message, as the decoders need it. */
export interface MessageField {
  /** The proto name, for error messages. */
  readonly name: string;
  /** The property the generated code uses (the JSON name: expected_version -> expectedVersion). */
  readonly property: string;
  /** The wire types it may arrive with. */
  readonly wireTypes: WireType[];
  readonly repeated: boolean;
  /** A `string` field: its bytes must be valid UTF-8. */
  readonly isString: boolean;
  /** For a message field, the fully-qualified type ("google.protobuf.Value"). */
  readonly messageType: string | undefined;
}

/** The fields one message declares, by field number. */
export interface MessageFields {
  /** Fully-qualified message name, for error messages. */
  readonly typeName: string;
  readonly fields: ReadonlyMap<number, MessageField>;
}

/** A method's request and response messages. */
export interface MethodFields {
  readonly request: MessageFields;
  readonly response: MessageFields;
}

/** What is read here of a ts-proto `protoMetadata` (buf.gen.yaml: outputSchema=true). */
export interface ProtoSchema {
  fileDescriptor: {
    package: string;
    messageType: readonly { name: string; field: readonly Field[] }[];
    service: readonly { name: string; method: readonly Method[] }[];
  };
  dependencies?: readonly ProtoSchema[];
}
type Field = Record<"name" | "typeName" | "jsonName", string> &
  Record<"number" | "label" | "type", number>;
type Method = Record<"name" | "inputType" | "outputType", string>;

/**
 * The request and response fields of every method of `service`, keyed by the method's
 * path ("/sessiond.v1.SessionService/Set"), from the descriptors ts-proto writes into the
 * generated code (`schema` is the service's file's protoMetadata): no file is read. The
 * generated decoder skips fields it does not know without a word and lets a bad UTF-8
 * string through as U+FFFD; this is what lets the strict definition refuse both, and find
 * the google.protobuf.Value and Struct fields that are coded exactly (see jsonFields.ts).
 */
export function methodFieldsByPath(
  service: string,
  schema: ProtoSchema,
): Map<string, MethodFields> {
  const messages = new Map<string, readonly Field[]>();
  let methods: readonly Method[] | undefined;
  const add = ({ fileDescriptor: file, dependencies = [] }: ProtoSchema) => {
    const prefix = file.package ? `${file.package}.` : "";
    for (const m of file.messageType) messages.set(prefix + m.name, m.field);
    for (const s of file.service) if (prefix + s.name === service) methods = s.method;
    for (const d of dependencies) add(d);
  };
  add(schema);
  if (methods === undefined) throw new Error(`descriptor set does not describe ${service}`);
  const fieldsOf = (type: string): MessageFields => {
    const typeName = type.replace(/^\./, "");
    const fields = messages.get(typeName);
    if (fields === undefined) throw new Error(`descriptor set lacks ${typeName}`);
    return { typeName, fields: new Map(fields.map((f) => [f.number, fieldOf(f)])) };
  };
  const out = new Map<string, MethodFields>();
  for (const method of methods) {
    out.set(`/${service}/${method.name}`, {
      request: fieldsOf(method.inputType),
      response: fieldsOf(method.outputType),
    });
  }
  return out;
}

function fieldOf(f: Field): MessageField {
  const repeated = f.label === FieldDescriptorProto_Label.REPEATED;
  return {
    name: f.name,
    property: f.jsonName || f.name,
    wireTypes: wireTypesOf(f.type, repeated),
    repeated,
    isString: f.type === T.STRING,
    messageType: f.type === T.MESSAGE ? f.typeName.replace(/^\./, "") : undefined,
  };
}

function wireTypesOf(type: T, repeated: boolean): WireType[] {
  const scalar = scalarWireType(type);
  // A repeated number may arrive packed (one length-delimited run) or one per tag.
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
