import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { genValue } from "../../scripts/fuzz/fuzzValues.js";
import { Rng } from "../../scripts/fuzz/Rng.js";
import { cloneJson, type JsonValue } from "../../src/core/json.js";
import {
  type EncodedJson,
  structOfJsonText,
  valueOfJsonText,
} from "../../src/protocol/encodeJsonText.js";
import { appendJsonFields } from "../../src/protocol/encodeJsonWire.js";

/*
 * The direct encoder (JSON text -> Value / Struct bytes) against today's path (JSON.parse,
 * cloneJson, appendJsonFields): byte for byte, or it declines (undefined) and the caller
 * takes today's path.
 */

const EMPTY = new Uint8Array(0);

/** Today's bytes of a Get response's value field (2) or a GetData's data field (1). */
function todays(text: string, struct: boolean): Buffer {
  const value = cloneJson(JSON.parse(text) as JsonValue);
  return appendJsonFields(EMPTY, [{ number: struct ? 1 : 2, struct, value }]);
}

function direct(encoded: EncodedJson, struct: boolean): Buffer {
  return appendJsonFields(EMPTY, [{ number: struct ? 1 : 2, struct, value: encoded }]);
}

/** Checks one text both ways; returns whether the direct path took it. */
function check(text: string, struct = false): boolean {
  const encoded = struct ? structOfJsonText(text) : valueOfJsonText(text);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    assert.equal(encoded, undefined, `JSON.parse refuses ${JSON.stringify(text)}; so must it`);
    return false;
  }
  if (struct && (typeof parsed !== "object" || parsed === null || Array.isArray(parsed))) {
    assert.equal(encoded, undefined, `${JSON.stringify(text)} is no object`);
    return false;
  }
  if (encoded === undefined) return false;
  assert.deepEqual(
    direct(encoded, struct).toString("hex"),
    todays(text, struct).toString("hex"),
    `bytes of ${JSON.stringify(text)}`,
  );
  return true;
}

/** JSON text for `value` written unlike JSON.stringify: escapes, spacing, number forms. */
function oddText(rng: Rng, value: unknown): string {
  const space = () => (rng.chance(0.2) ? [" ", "\n", "\t", "\r\n  "][rng.int(4)] : "");
  const str = (s: string): string => {
    let out = '"';
    for (const ch of s) {
      const c = ch.charCodeAt(0);
      if (ch === '"' || ch === "\\" || c < 0x20 || rng.chance(0.1)) {
        for (let i = 0; i < ch.length; i++) {
          out += `\\u${ch.charCodeAt(i).toString(16).padStart(4, "0")}`;
        }
      } else if (ch === "/" && rng.chance(0.5)) out += "\\/";
      else out += ch;
    }
    return `${out}"`;
  };
  const num = (n: number): string => {
    if (n === 0 && rng.chance(0.5))
      return ["-0", "-0.0", "0e0", "-0E+3", "0.000"][rng.int(5)] as string;
    if (Number.isInteger(n) && rng.chance(0.3)) return `${n}${rng.chance(0.5) ? ".0" : "e0"}`;
    return JSON.stringify(n);
  };
  const walk = (v: unknown): string => {
    if (v === null || typeof v === "boolean") return String(v);
    if (typeof v === "number") return num(v);
    if (typeof v === "string") return str(v);
    if (Array.isArray(v))
      return `[${space()}${v.map((x) => walk(x) + space()).join(`,${space()}`)}]`;
    const o = v as Record<string, unknown>;
    return `{${space()}${Object.keys(o)
      .map((k) => `${str(k)}${space()}:${space()}${walk(o[k])}${space()}`)
      .join(`,${space()}`)}}`;
  };
  return space() + walk(value) + space();
}

/** A string of random UTF-16 code units: lone surrogates, pairs, controls, ASCII, BMP. */
function oddString(rng: Rng): string {
  let s = "";
  const n = rng.int(8);
  for (let i = 0; i < n; i++) {
    const pick = rng.int(6);
    if (pick === 0)
      s += String.fromCharCode(0xd800 + rng.int(0x800)); // any surrogate
    else if (pick === 1) s += "😀";
    else if (pick === 2) s += String.fromCharCode(rng.int(0x20));
    else if (pick === 3) s += String.fromCharCode(0x80 + rng.int(0x780));
    else if (pick === 4) s += String.fromCharCode(0x800 + rng.int(0xd000));
    else s += String.fromCharCode(0x20 + rng.int(0x5f));
  }
  return s;
}

/** A value with the keys JSON.parse reorders or merges now and then. */
function oddValue(rng: Rng, depth: number): unknown {
  const kind = rng.int(depth > 4 ? 4 : 6);
  if (kind === 0) return null;
  if (kind === 1) return rng.chance(0.5);
  if (kind === 2)
    return [0, -0, 1.5, -2e-300, 1e21, 123456789, 2 ** 53 + 1, -1e-7, rng.float()][rng.int(9)];
  if (kind === 3) return oddString(rng);
  if (kind === 4) return Array.from({ length: rng.int(4) }, () => oddValue(rng, depth + 1));
  const out: Record<string, unknown> = {};
  const n = rng.int(5);
  for (let i = 0; i < n; i++) {
    const key = rng.chance(0.15)
      ? ["0", "7", "01", "4294967294", "4294967295", "-1", "1.5", "__proto__"][rng.int(8)]
      : oddString(rng);
    Object.defineProperty(out, key as string, {
      value: oddValue(rng, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return out;
}

describe("JSON text straight to google.protobuf.Value bytes", () => {
  test("what JSON.stringify writes of generated values: taken, and byte-identical", () => {
    let taken = 0;
    let cases = 0;
    for (let i = 0; i < 3000; i++) {
      const { model } = genValue(Rng.forCase(7, i), { hostile: 0 });
      if (model === undefined) continue;
      const text = JSON.stringify(model);
      cases++;
      if (check(text)) taken++;
      if (model !== null && typeof model === "object" && !Array.isArray(model)) check(text, true);
    }
    // Declining is for index keys and repeated keys only, which these values rarely have.
    assert.ok(cases > 2500, `${cases} cases`);
    assert.ok(taken > cases * 0.95, `the direct path took ${taken} of ${cases}`);
  });

  test("odd text (escapes, lone surrogates, spacing, -0 and number forms, index and repeated keys): byte-identical whenever taken", () => {
    let taken = 0;
    for (let i = 0; i < 4000; i++) {
      const rng = Rng.forCase(11, i);
      const value = oddValue(rng, 0);
      const text = oddText(rng, value);
      if (check(text)) taken++;
      check(text, true);
      // Repeated keys: the text of two objects' members spliced into one.
      if (text.trim().startsWith("{") && text.trim() !== "{}") {
        const inner = text.trim().slice(1, -1);
        check(`{${inner},${inner}}`);
      }
    }
    assert.ok(taken > 2000, `the direct path took ${taken} of 4000`);
  });

  test("edge cases agree or decline", () => {
    const taken = [
      "-0",
      "-0.0",
      "-0e5",
      "-1e-400",
      "1e400",
      "-1e400",
      "1E+2",
      "0.1",
      "123456789012345678901234567890",
      "9007199254740993",
      '"\\ud800"',
      '"\\udc00x"',
      '"\\ud83d\\ude00"',
      `"${String.fromCharCode(0xd800)}"`,
      `"a${String.fromCharCode(0xdc00)}${String.fromCharCode(0xd800)}"`,
      '"😀é€"',
      '"\\u0000\\b\\f\\n\\r\\t\\"\\\\\\/"',
      '{"__proto__":{"__proto__":1}}',
      '{"constructor":1,"toString":[]}',
      '{"a":{"b":[1,{"c":null}]},"d":true,"e":false}',
      '{"10":1}'.replace("10", "1a"),
      '{"01":1,"-1":2,"4294967295":3}',
      ' [ 1 , [ ] , { } , "x" ] ',
      `"${"x".repeat(200)}"`,
      `"${"é".repeat(100)}"`,
      `${"[".repeat(60)}${"]".repeat(60)}`,
      // Long ASCII texts: the whole-text check, then strings copied byte for byte.
      `{"a":"${"x".repeat(100)}","b":"\\u00e9${"y".repeat(80)}","c":[1,-0,{"d":"${"z".repeat(70)}"}]}`,
      `["${"q".repeat(300)}","\\ud800${"r".repeat(90)}",{"__proto__":"${"s".repeat(65)}"}]`,
      `{"k":"${"é".repeat(40)}${"x".repeat(40)}","l":"${"😀".repeat(40)}"}`,
    ];
    for (const text of taken) assert.ok(check(text), `takes ${JSON.stringify(text)}`);
    const declined = [
      '{"1":1,"a":2,"0":3}',
      '{"a":1,"a":2}',
      '{"a":1,"\\u0061":2}',
      `${"[".repeat(70)}${"]".repeat(70)}`,
    ];
    for (const text of declined) {
      assert.equal(valueOfJsonText(text), undefined, JSON.stringify(text));
      check(text); // and today's path answers it
    }
    const malformed = [
      "",
      " ",
      "{",
      '{"a":1,}',
      "[1,]",
      "01",
      "1.",
      ".5",
      "+1",
      "-",
      "1e",
      "tru",
      "nul",
      '"\t"',
      '"\\x"',
      '"\\u12"',
      '"abc',
      "[1] x",
      "{'a':1}",
      "NaN",
      "Infinity",
      `["${"x".repeat(100)}\u0001"]`,
      `["${"x".repeat(10)}\u001f"]`,
      `{"a":"${"x".repeat(100)}","b":1,}`,
    ];
    for (const text of malformed) assert.equal(check(text), false, JSON.stringify(text));
    for (const text of ["[1]", '"x"', "1", "null"]) {
      assert.equal(structOfJsonText(text), undefined, `${text} is not a Struct`);
    }
  });

  test("an encoded Value does not go into a Struct field", () => {
    const encoded = valueOfJsonText('{"a":1}') as EncodedJson;
    assert.throws(
      () => appendJsonFields(EMPTY, [{ number: 1, struct: true, value: encoded }]),
      /takes a Struct/,
    );
  });
});
