import {
  type Server,
  type ServerDuplexStream,
  type ServiceDefinition,
  status,
} from "@grpc/grpc-js";
import { descriptorSet } from "../../protocol/descriptorSet.js";
import { DescriptorIndex } from "./DescriptorIndex.js";
import {
  decodeRequest,
  encodeResponse,
  type ReflectionAnswer,
  type ReflectionQuery,
} from "./reflectionWire.js";

export const REFLECTION_SERVICES = [
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
] as const;

let defaultIndex: DescriptorIndex | undefined;

/** The index of the generated descriptor set (`npm run gen`), decoded once on first use. */
export function loadDescriptorIndex(): DescriptorIndex {
  defaultIndex ??= new DescriptorIndex(descriptorSet());
  return defaultIndex;
}

/**
 * Adds grpc.reflection.v1 and v1alpha ServerReflection to `server`, answering from the
 * `buf build` descriptor set. `services` are the names ListServices reports; the two
 * reflection services are added to them. Each must be described by the set, so a stale
 * descriptor set fails at start-up rather than in a client.
 */
export function addReflection(
  server: Server,
  services: readonly string[],
  index: DescriptorIndex = loadDescriptorIndex(),
): void {
  const names = [...new Set([...services, ...REFLECTION_SERVICES])].sort();
  for (const name of names) {
    if (!index.isService(name)) {
      throw new Error(`reflection: service ${name} is not in the descriptor set (run npm run gen)`);
    }
  }
  for (const service of REFLECTION_SERVICES) {
    server.addService(definition(service), {
      serverReflectionInfo: (call: ServerDuplexStream<Buffer, Uint8Array>) =>
        serve(call, index, names),
    });
  }
}

function definition(service: string): ServiceDefinition {
  const passThrough = (bytes: Buffer) => bytes;
  return {
    serverReflectionInfo: {
      path: `/${service}/ServerReflectionInfo`,
      requestStream: true,
      responseStream: true,
      requestSerialize: passThrough,
      requestDeserialize: passThrough,
      responseSerialize: (bytes: Uint8Array) => Buffer.from(bytes),
      responseDeserialize: passThrough,
      originalName: "serverReflectionInfo",
    },
  } as ServiceDefinition;
}

function serve(
  call: ServerDuplexStream<Buffer, Uint8Array>,
  index: DescriptorIndex,
  services: string[],
): void {
  call.on("data", (raw: Buffer) => {
    let host = "";
    let answer: ReflectionAnswer;
    try {
      const request = decodeRequest(raw);
      host = request.host;
      answer = respond(request.query, index, services);
    } catch {
      answer = { kind: "error", code: status.INVALID_ARGUMENT, message: "malformed request" };
    }
    call.write(encodeResponse(host, raw, answer));
  });
  call.on("end", () => call.end());
  // A client that goes away mid-stream is normal; there is nothing to clean up.
  call.on("error", () => {});
}

function respond(
  query: ReflectionQuery,
  index: DescriptorIndex,
  services: string[],
): ReflectionAnswer {
  const notFound = (what: string): ReflectionAnswer => ({
    kind: "error",
    code: status.NOT_FOUND,
    message: `${what} not found`,
  });
  switch (query.kind) {
    case "listServices":
      return { kind: "services", names: services };
    case "fileByFilename":
      return index.hasFile(query.name)
        ? { kind: "files", files: index.withDependencies(query.name) }
        : notFound(`file ${query.name}`);
    case "fileContainingSymbol": {
      const file = index.fileOfSymbol(query.symbol);
      return file === undefined
        ? notFound(`symbol ${query.symbol}`)
        : { kind: "files", files: index.withDependencies(file) };
    }
    case "fileContainingExtension": {
      const file = index.fileOfExtension(query.containingType, query.fieldNumber);
      return file === undefined
        ? notFound(`extension ${query.fieldNumber} of ${query.containingType}`)
        : { kind: "files", files: index.withDependencies(file) };
    }
    case "allExtensionNumbersOfType":
      return index.fileOfSymbol(query.typeName) === undefined
        ? notFound(`type ${query.typeName}`)
        : {
            kind: "extensionNumbers",
            baseTypeName: query.typeName.replace(/^\./, ""),
            numbers: index.extensionNumbersOf(query.typeName),
          };
    case "none":
      return {
        kind: "error",
        code: status.INVALID_ARGUMENT,
        message: "request names no query (set one of the message_request fields)",
      };
  }
}
