// Server reflection as strict clients use it. Requests and responses are encoded here with
// protobuf-es from the reflection proto (not with the server's hand-written wire code), and
// every answer must build a FileRegistry, which fails on any missing dependency — the
// failure grpcurl and buf curl hit with the stock @grpc/reflection.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import {
  create,
  createFileRegistry,
  type DescMessage,
  type FileRegistry,
  fromBinary,
  type Message,
  toBinary,
} from "@bufbuild/protobuf";
import {
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
} from "@bufbuild/protobuf/wkt";
import { Client, type ClientDuplexStream, credentials } from "@grpc/grpc-js";
import { SessionServiceService } from "../../src/gen/sessiond/v1/session.js";
import { descriptorSet } from "../../src/protocol/descriptorSet.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";

const ALL_SERVICES = [
  "grpc.health.v1.Health",
  "grpc.reflection.v1.ServerReflection",
  "grpc.reflection.v1alpha.ServerReflection",
  "sessiond.v1.SessionService",
];

// Only the reflection messages are taken from the generated set, to encode requests.
const schemaRegistry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet()));

interface Answer {
  validHost: string;
  originalRequest?: { messageRequest: { case?: string; value?: unknown } };
  messageResponse:
    | { case: "fileDescriptorResponse"; value: { fileDescriptorProto: Uint8Array[] } }
    | { case: "listServicesResponse"; value: { service: { name: string }[] } }
    | { case: "errorResponse"; value: { errorCode: number; errorMessage: string } }
    | {
        case: "allExtensionNumbersResponse";
        value: { baseTypeName: string; extensionNumber: number[] };
      }
    | { case: undefined };
}

/** One reflection stream; ask() sends a request and resolves with the next response. */
class ReflectionStream {
  readonly #call: ClientDuplexStream<Uint8Array, Uint8Array>;
  readonly #request: DescMessage;
  readonly #response: DescMessage;
  readonly #waiting: Array<(bytes: Uint8Array) => void> = [];

  constructor(client: Client, version: "v1" | "v1alpha") {
    const pkg = `grpc.reflection.${version}`;
    this.#request = schemaRegistry.getMessage(`${pkg}.ServerReflectionRequest`) as DescMessage;
    this.#response = schemaRegistry.getMessage(`${pkg}.ServerReflectionResponse`) as DescMessage;
    this.#call = client.makeBidiStreamRequest(
      `/${pkg}.ServerReflection/ServerReflectionInfo`,
      (bytes: Uint8Array) => Buffer.from(bytes),
      (bytes: Buffer) => new Uint8Array(bytes),
    );
    this.#call.on("data", (bytes: Uint8Array) => this.#waiting.shift()?.(bytes));
    this.#call.on("error", () => {});
  }

  ask(kind: string | undefined, value: unknown, host = ""): Promise<Answer> {
    const message = create(this.#request, {
      host,
      messageRequest: { case: kind, value },
    } as never);
    return new Promise((resolve) => {
      this.#waiting.push((bytes) =>
        resolve(fromBinary(this.#response, bytes) as unknown as Answer),
      );
      this.#call.write(toBinary(this.#request, message as Message));
    });
  }

  /** The files of a file_descriptor_response; fails on any other answer. */
  async files(kind: string, value: string): Promise<FileDescriptorProto[]> {
    const answer = await this.ask(kind, value);
    assert.equal(answer.messageResponse.case, "fileDescriptorResponse", JSON.stringify(answer));
    const { fileDescriptorProto } = (
      answer.messageResponse as { value: { fileDescriptorProto: Uint8Array[] } }
    ).value;
    return fileDescriptorProto.map((raw) => fromBinary(FileDescriptorProtoSchema, raw));
  }

  end(): void {
    this.#call.end();
  }
}

/**
 * Strict resolution: throws when a file's dependency is not among the files. Files come
 * asked-for first (as grpc-go sends them); like any client, put dependencies first.
 */
function registryOf(files: FileDescriptorProto[]): FileRegistry {
  const byName = new Map(files.map((f) => [f.name, f]));
  const ordered: FileDescriptorProto[] = [];
  const visit = (file: FileDescriptorProto) => {
    if (ordered.includes(file)) return;
    for (const dep of file.dependency) {
      const found = byName.get(dep);
      if (found) visit(found);
    }
    ordered.push(file);
  };
  files.forEach(visit);
  return createFileRegistry(create(FileDescriptorSetSchema, { file: ordered }));
}

let running: RunningServer;
let client: Client;
before(async () => {
  running = await startServer({ port: 0, storage: "memory" });
  client = new Client(running.address, credentials.createInsecure());
});
after(async () => {
  client.close();
  await running.shutdown();
});

for (const version of ["v1", "v1alpha"] as const) {
  describe(`grpc.reflection.${version}`, () => {
    test("lists exactly the services the server serves", async () => {
      const stream = new ReflectionStream(client, version);
      const answer = await stream.ask("listServices", "*", "example.test");
      stream.end();
      assert.equal(answer.validHost, "example.test");
      assert.equal(answer.originalRequest?.messageRequest.case, "listServices");
      assert.equal(answer.messageResponse.case, "listServicesResponse");
      const names = answer.messageResponse.value.service.map((s) => s.name);
      assert.deepEqual(names.sort(), ALL_SERVICES);
    });

    test("every listed service resolves with all its dependencies", async () => {
      const stream = new ReflectionStream(client, version);
      for (const name of ALL_SERVICES) {
        const files = await stream.files("fileContainingSymbol", name);
        const registry = registryOf(files);
        const service = registry.getService(name);
        assert.ok(service, `${name} not in the returned files`);
        for (const method of service.methods) {
          assert.ok(registry.getMessage(method.input.typeName), method.input.typeName);
          assert.ok(registry.getMessage(method.output.typeName), method.output.typeName);
        }
      }
      stream.end();
    });

    test("SessionService: every method, messages with well-known types, comments", async () => {
      const stream = new ReflectionStream(client, version);
      const files = await stream.files("fileContainingSymbol", "sessiond.v1.SessionService");
      stream.end();
      assert.equal(files[0]?.name, "sessiond/v1/session.proto", "the asked-for file comes first");
      assert.deepEqual(files.map((f) => f.name).sort(), [
        "google/protobuf/struct.proto",
        "google/protobuf/timestamp.proto",
        "sessiond/v1/session.proto",
      ]);
      const registry = registryOf(files);
      const service = registry.getService("sessiond.v1.SessionService");
      assert.deepEqual(
        service?.methods.map((m) => `/sessiond.v1.SessionService/${m.name}`).sort(),
        Object.values(SessionServiceService)
          .map((m) => m.path)
          .sort(),
      );
      const describe = registry.getMessage("sessiond.v1.DescribeResponse");
      assert.equal(describe?.field.createTime?.message?.typeName, "google.protobuf.Timestamp");
      assert.equal(describe?.field.expireTime?.message?.typeName, "google.protobuf.Timestamp");
      const get = registry.getMessage("sessiond.v1.GetResponse");
      assert.equal(get?.field.value?.message?.typeName, "google.protobuf.Value");
      const data = registry.getMessage("sessiond.v1.GetDataResponse");
      assert.equal(data?.field.data?.message?.typeName, "google.protobuf.Struct");
      const comments = files[0]?.sourceCodeInfo?.location.map((l) => l.leadingComments) ?? [];
      assert.ok(comments.some((c) => c.includes("SessionService exposes per-caller sessions")));
    });

    test("symbols of every kind, with or without a leading dot", async () => {
      const stream = new ReflectionStream(client, version);
      const cases: Array<[string, string]> = [
        ["sessiond.v1.SessionService.Set", "sessiond/v1/session.proto"],
        [".sessiond.v1.GetRequest", "sessiond/v1/session.proto"],
        ["sessiond.v1.SetRequest.key", "sessiond/v1/session.proto"],
        ["google.protobuf.Value", "google/protobuf/struct.proto"],
        ["google.protobuf.NullValue", "google/protobuf/struct.proto"],
        ["google.protobuf.Timestamp", "google/protobuf/timestamp.proto"],
        ["grpc.health.v1.HealthCheckResponse.ServingStatus", "grpc/health/v1/health.proto"],
      ];
      for (const [symbol, file] of cases) {
        const files = await stream.files("fileContainingSymbol", symbol);
        assert.equal(files[0]?.name, file, symbol);
      }
      const byName = await stream.files("fileByFilename", "google/protobuf/timestamp.proto");
      assert.deepEqual(
        byName.map((f) => f.name),
        ["google/protobuf/timestamp.proto"],
      );
      stream.end();
    });

    test("unknown names are NOT_FOUND, a request without a query INVALID_ARGUMENT; the stream goes on", async () => {
      const stream = new ReflectionStream(client, version);
      const errorOf = async (kind: string | undefined, value: unknown) => {
        const answer = await stream.ask(kind, value);
        assert.equal(answer.messageResponse.case, "errorResponse", JSON.stringify(answer));
        return (answer.messageResponse as { value: { errorCode: number } }).value.errorCode;
      };
      assert.equal(await errorOf("fileContainingSymbol", "no.such.Thing"), 5);
      assert.equal(await errorOf("fileByFilename", "no/such.proto"), 5);
      assert.equal(await errorOf("allExtensionNumbersOfType", "no.such.Type"), 5);
      const extensionRequest = schemaRegistry.getMessage(
        `grpc.reflection.${version}.ExtensionRequest`,
      ) as DescMessage;
      assert.equal(
        await errorOf(
          "fileContainingExtension",
          create(extensionRequest, {
            containingType: "sessiond.v1.GetRequest",
            extensionNumber: 100,
          } as never),
        ),
        5,
      );
      assert.equal(await errorOf(undefined, undefined), 3);
      const numbers = await stream.ask("allExtensionNumbersOfType", "sessiond.v1.GetRequest");
      assert.equal(numbers.messageResponse.case, "allExtensionNumbersResponse");
      assert.equal(numbers.messageResponse.value.baseTypeName, "sessiond.v1.GetRequest");
      assert.deepEqual(numbers.messageResponse.value.extensionNumber, []);
      // Still answering after the errors.
      assert.equal((await stream.files("fileByFilename", "sessiond/v1/session.proto")).length, 3);
      stream.end();
    });
  });
}
