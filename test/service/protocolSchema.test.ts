// Where the strict request decoding gets its field tables: from the descriptors ts-proto
// writes into the generated code (buf.gen.yaml: outputSchema=true), with no file read at
// import, and in agreement with the `buf build` descriptor set that reflection serves.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { createFileRegistry, type DescField, fromBinary, ScalarType } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import { protoMetadata } from "../../src/gen/sessiond/v1/session.js";
import { descriptorSet } from "../../src/protocol/descriptorSet.js";
import { methodFieldsByPath } from "../../src/protocol/messageFields.js";

const SERVICE = "sessiond.v1.SessionService";
const src = (dir: string) => fileURLToPath(new URL(`../../src/${dir}/`, import.meta.url));

test("importing every module of src/protocol and src/service reads no file", () => {
  const modules = ["protocol", "service"].flatMap((dir) =>
    readdirSync(src(dir))
      .filter((name) => name.endsWith(".ts"))
      .map((name) => src(dir) + name),
  );
  // Records what the process reads through node:fs while the modules load, less the code
  // itself (CommonJS dependencies, their source maps and package.json files).
  const script = `
    import fs from "node:fs";
    import { syncBuiltinESMExports } from "node:module";
    const read = [];
    for (const name of ["readFileSync", "openSync", "readFile", "open", "createReadStream"]) {
      const original = fs[name];
      fs[name] = function (path, ...rest) {
        read.push(String(path));
        return original.call(this, path, ...rest);
      };
    }
    for (const name of ["readFile", "open"]) {
      const original = fs.promises[name];
      fs.promises[name] = function (path, ...rest) {
        read.push(String(path));
        return original.call(this, path, ...rest);
      };
    }
    syncBuiltinESMExports();
    for (const m of ${JSON.stringify(modules)}) await import(m);
    const code = /\\.[cm]?[jt]s(\\.map)?$|\\/package\\.json$/;
    console.log(JSON.stringify(read.filter((path) => !code.test(path))));
  `;
  const out = execFileSync(
    process.execPath,
    ["--import", "tsx", "--input-type=module", "-e", script],
    { encoding: "utf8" },
  );
  assert.ok(modules.length >= 2, "found the modules");
  assert.deepEqual(JSON.parse(out), [], "files read while importing");
});

test("the generated schema declares the same fields as the buf build descriptor set", () => {
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, descriptorSet()));
  const service = registry.getService(SERVICE);
  assert.ok(service);
  const fromSchema = methodFieldsByPath(SERVICE, protoMetadata);
  assert.equal(fromSchema.size, service.methods.length);
  const expected = (fields: readonly DescField[]) =>
    fields.map((f) => ({
      number: f.number,
      name: f.name,
      property: f.jsonName,
      repeated: f.fieldKind === "list",
      isString:
        (f.fieldKind === "scalar" || f.fieldKind === "list") && f.scalar === ScalarType.STRING,
      messageType: f.message?.typeName,
    }));
  const actual = (
    fields: ReturnType<typeof fromSchema.get> & object,
    part: "request" | "response",
  ) =>
    [...fields[part].fields].map(([number, f]) => ({
      number,
      name: f.name,
      property: f.property,
      repeated: f.repeated,
      isString: f.isString,
      messageType: f.messageType,
    }));
  for (const method of service.methods) {
    const path = `/${SERVICE}/${method.name}`;
    const fields = fromSchema.get(path);
    assert.ok(fields, path);
    assert.equal(fields.request.typeName, method.input.typeName);
    assert.equal(fields.response.typeName, method.output.typeName);
    assert.deepEqual(actual(fields, "request"), expected(method.input.fields), path);
    assert.deepEqual(actual(fields, "response"), expected(method.output.fields), path);
  }
});
