import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

/**
 * Wire encoding of ServerReflectionRequest / ServerReflectionResponse, identical in
 * grpc.reflection.v1 and v1alpha (see src/server/proto/grpc/reflection/v1/reflection.proto).
 * Hand-written because the messages are tiny and the server needs no generated classes.
 */

export type ReflectionQuery =
  | { kind: "fileByFilename"; name: string }
  | { kind: "fileContainingSymbol"; symbol: string }
  | { kind: "fileContainingExtension"; containingType: string; fieldNumber: number }
  | { kind: "allExtensionNumbersOfType"; typeName: string }
  | { kind: "listServices" }
  | { kind: "none" };

export interface ReflectionRequest {
  host: string;
  query: ReflectionQuery;
}

export function decodeRequest(bytes: Uint8Array): ReflectionRequest {
  const reader = new BinaryReader(bytes);
  let host = "";
  let query: ReflectionQuery = { kind: "none" };
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    switch (field) {
      case 1:
        host = reader.string();
        break;
      case 3:
        query = { kind: "fileByFilename", name: reader.string() };
        break;
      case 4:
        query = { kind: "fileContainingSymbol", symbol: reader.string() };
        break;
      case 5:
        query = { kind: "fileContainingExtension", ...decodeExtensionRequest(reader.bytes()) };
        break;
      case 6:
        query = { kind: "allExtensionNumbersOfType", typeName: reader.string() };
        break;
      case 7:
        reader.string();
        query = { kind: "listServices" };
        break;
      default:
        reader.skip(wireType, field);
    }
  }
  return { host, query };
}

function decodeExtensionRequest(bytes: Uint8Array): {
  containingType: string;
  fieldNumber: number;
} {
  const reader = new BinaryReader(bytes);
  let containingType = "";
  let fieldNumber = 0;
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1) containingType = reader.string();
    else if (field === 2) fieldNumber = reader.int32();
    else reader.skip(wireType, field);
  }
  return { containingType, fieldNumber };
}

export type ReflectionAnswer =
  | { kind: "files"; files: Uint8Array[] }
  | { kind: "extensionNumbers"; baseTypeName: string; numbers: number[] }
  | { kind: "services"; names: string[] }
  | { kind: "error"; code: number; message: string };

/** `originalRequest` is echoed back as received, which is what the field is for. */
export function encodeResponse(
  host: string,
  originalRequest: Uint8Array,
  answer: ReflectionAnswer,
): Uint8Array {
  const w = new BinaryWriter();
  if (host !== "") w.tag(1, WireType.LengthDelimited).string(host);
  w.tag(2, WireType.LengthDelimited).bytes(originalRequest);
  switch (answer.kind) {
    case "files": {
      w.tag(4, WireType.LengthDelimited).fork();
      for (const file of answer.files) w.tag(1, WireType.LengthDelimited).bytes(file);
      w.join();
      break;
    }
    case "extensionNumbers": {
      w.tag(5, WireType.LengthDelimited).fork();
      w.tag(1, WireType.LengthDelimited).string(answer.baseTypeName);
      w.tag(2, WireType.LengthDelimited).fork();
      for (const n of answer.numbers) w.int32(n);
      w.join();
      w.join();
      break;
    }
    case "services": {
      w.tag(6, WireType.LengthDelimited).fork();
      for (const name of answer.names) {
        w.tag(1, WireType.LengthDelimited).fork().tag(1, WireType.LengthDelimited).string(name);
        w.join();
      }
      w.join();
      break;
    }
    case "error": {
      w.tag(7, WireType.LengthDelimited).fork();
      w.tag(1, WireType.Varint).int32(answer.code);
      w.tag(2, WireType.LengthDelimited).string(answer.message);
      w.join();
      break;
    }
  }
  return w.finish();
}
