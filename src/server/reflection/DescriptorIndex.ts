import { fromBinary } from "@bufbuild/protobuf";
import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import {
  type DescriptorProto,
  type EnumDescriptorProto,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";

interface IndexedFile {
  /** The bytes exactly as `buf build` wrote them: served unchanged, never re-encoded. */
  raw: Uint8Array;
  proto: FileDescriptorProto;
}

/**
 * The files of one FileDescriptorSet, looked up by file name or by any fully-qualified
 * symbol they declare (service, method, message, field, enum, enum value, extension).
 */
export class DescriptorIndex {
  readonly #files = new Map<string, IndexedFile>();
  readonly #symbols = new Map<string, string>();
  readonly #extensions = new Map<string, Map<number, string>>();

  constructor(descriptorSet: Uint8Array) {
    for (const raw of splitFiles(descriptorSet)) {
      const proto = fromBinary(FileDescriptorProtoSchema, raw);
      if (this.#files.has(proto.name)) throw new Error(`descriptor set has ${proto.name} twice`);
      this.#files.set(proto.name, { raw, proto });
      this.#indexFile(proto);
    }
    for (const { proto } of this.#files.values()) {
      for (const dep of proto.dependency) {
        if (!this.#files.has(dep))
          throw new Error(`${proto.name} imports ${dep}, which is missing`);
      }
    }
  }

  hasFile(name: string): boolean {
    return this.#files.has(name);
  }

  /** The file that declares `symbol` (a leading dot is allowed), or undefined. */
  fileOfSymbol(symbol: string): string | undefined {
    return this.#symbols.get(symbol.replace(/^\./, ""));
  }

  fileOfExtension(containingType: string, fieldNumber: number): string | undefined {
    return this.#extensions.get(containingType.replace(/^\./, ""))?.get(fieldNumber);
  }

  extensionNumbersOf(typeName: string): number[] {
    return [...(this.#extensions.get(typeName.replace(/^\./, ""))?.keys() ?? [])];
  }

  /** Whether `name` is a service declared in some file. */
  isService(name: string): boolean {
    const file = this.fileOfSymbol(name);
    const proto = file === undefined ? undefined : this.#files.get(file)?.proto;
    return !!proto?.service.some((s) => qualify(proto.package, s.name) === name);
  }

  /**
   * The file's bytes followed by those of all its transitive dependencies, each once:
   * strict clients need the whole closure to resolve imported types.
   */
  withDependencies(name: string): Uint8Array[] {
    const out: Uint8Array[] = [];
    const seen = new Set<string>();
    const visit = (file: string) => {
      if (seen.has(file)) return;
      seen.add(file);
      const entry = this.#files.get(file) as IndexedFile;
      out.push(entry.raw);
      for (const dep of entry.proto.dependency) visit(dep);
    };
    visit(name);
    return out;
  }

  #indexFile(file: FileDescriptorProto): void {
    const add = (symbol: string) => this.#symbols.set(symbol, file.name);
    const pkg = file.package;
    const addEnum = (scope: string, e: EnumDescriptorProto) => {
      const name = qualify(scope, e.name);
      add(name);
      // Enum values are scoped like siblings of their enum, as in protobuf itself.
      for (const value of e.value) add(qualify(scope, value.name));
    };
    const addMessage = (scope: string, m: DescriptorProto) => {
      const name = qualify(scope, m.name);
      add(name);
      for (const field of m.field) add(qualify(name, field.name));
      for (const oneof of m.oneofDecl) add(qualify(name, oneof.name));
      for (const nested of m.nestedType) addMessage(name, nested);
      for (const e of m.enumType) addEnum(name, e);
      for (const ext of m.extension) this.#addExtension(file.name, name, ext);
    };
    for (const m of file.messageType) addMessage(pkg, m);
    for (const e of file.enumType) addEnum(pkg, e);
    for (const ext of file.extension) this.#addExtension(file.name, pkg, ext);
    for (const service of file.service) {
      const name = qualify(pkg, service.name);
      add(name);
      for (const method of service.method) add(qualify(name, method.name));
    }
  }

  #addExtension(
    fileName: string,
    scope: string,
    ext: { name: string; extendee: string; number: number },
  ): void {
    this.#symbols.set(qualify(scope, ext.name), fileName);
    const extendee = ext.extendee.replace(/^\./, "");
    const numbers = this.#extensions.get(extendee) ?? new Map<number, string>();
    this.#extensions.set(extendee, numbers);
    numbers.set(ext.number, fileName);
  }
}

function qualify(scope: string, name: string): string {
  return scope === "" ? name : `${scope}.${name}`;
}

/** The raw bytes of each `file` (field 1) of a FileDescriptorSet, without re-encoding. */
function splitFiles(set: Uint8Array): Uint8Array[] {
  const reader = new BinaryReader(set);
  const files: Uint8Array[] = [];
  while (reader.pos < reader.len) {
    const [field, wireType] = reader.tag();
    if (field === 1 && wireType === WireType.LengthDelimited) files.push(reader.bytes());
    else reader.skip(wireType, field);
  }
  return files;
}
