/**
 * Value parsers for settings. Each returns the parsed value or throws a ValueError whose
 * message says what was expected; parseConfig and resolveConfig add which setting it was.
 */

import { readFileSync } from "node:fs";

export class ValueError extends Error {}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Text parseDuration reads back as `ms`, as people write it: 86400000 → "24h", 250 → "250ms". */
export function durationText(ms: number): string {
  // Days only from two on: "24h" reads better than "1d".
  const units = ms >= 2 * 86_400_000 ? (["d", "h", "m", "s"] as const) : (["h", "m", "s"] as const);
  for (const unit of units) {
    const size = UNIT_MS[unit] as number;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Milliseconds from `1500`, `500ms`, `30s`, `24h` or compounds such as `1h30m`. */
export function parseDuration(raw: string, { allowZero = false } = {}): number {
  const text = raw.trim();
  const expected = `a duration such as 500ms, 30s, 15m, 24h, 7d or a whole number of milliseconds${allowZero ? "" : " above 0"}`;
  let ms: number;
  if (/^\d+$/.test(text)) {
    ms = Number(text);
  } else if (/^(\d+(?:\.\d+)?(ms|s|m|h|d))+$/.test(text)) {
    ms = 0;
    for (const [, amount, unit] of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
      ms += Number(amount) * UNIT_MS[unit as string];
    }
    ms = Math.round(ms);
  } else {
    throw new ValueError(expected);
  }
  if (!Number.isSafeInteger(ms) || ms < 0 || (!allowZero && ms === 0))
    throw new ValueError(expected);
  return ms;
}

/** Node timers fire at once past 2^31-1 ms, so durations that become timers stop at 24 days. */
export function parseTimerDuration(raw: string): number {
  const ms = parseDuration(raw);
  if (ms > 24 * 86_400_000) throw new ValueError("a duration above 0 and at most 24d");
  return ms;
}

export function parseInteger(raw: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = raw.trim();
  const value = Number(text);
  if (!/^-?\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new ValueError(
      max === Number.MAX_SAFE_INTEGER
        ? `a whole number of at least ${min}`
        : `a whole number from ${min} to ${max}`,
    );
  }
  return value;
}

export function parseBoolean(raw: string): boolean {
  const text = raw.trim().toLowerCase();
  if (["true", "1", "yes", "on"].includes(text)) return true;
  if (["false", "0", "no", "off"].includes(text)) return false;
  throw new ValueError("true or false");
}

export function parseChoice<T extends string>(raw: string, choices: readonly T[]): T {
  const text = raw.trim();
  if ((choices as readonly string[]).includes(text)) return text as T;
  throw new ValueError(`one of ${choices.join(", ")}`);
}

/** A 32-byte key written as 64 hex digits or as base64 (standard or URL-safe). */
export function parseKey32(raw: string): Buffer {
  const text = raw.trim();
  const expected =
    "a 32-byte key as 64 hex digits or as base64 (e.g. from `openssl rand -base64 32`)";
  let key: Buffer | undefined;
  if (/^[0-9a-fA-F]{64}$/.test(text)) key = Buffer.from(text, "hex");
  else if (/^[A-Za-z0-9+/_-]{43}=?$/.test(text)) key = Buffer.from(text, "base64");
  if (key?.length !== 32) throw new ValueError(expected);
  return key;
}

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port[,host:port…]`; IPv6 hosts in brackets: `[::1]:6379`. */
export function parseHostPortList(raw: string): HostPort[] {
  const expected = "a comma-separated list of host:port (IPv6 as [::1]:6379)";
  const items = raw
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item !== "");
  if (items.length === 0) throw new ValueError(expected);
  return items.map((item) => {
    const match = /^(?:\[([^\]]+)\]|([^:[\]\s]+)):(\d+)$/.exec(item);
    const port = Number(match?.[3]);
    if (!match || !Number.isInteger(port) || port < 1 || port > 65_535) {
      throw new ValueError(expected);
    }
    return { host: (match[1] ?? match[2]) as string, port };
  });
}

/** A name for one gRPC metadata entry: lowercase, ASCII, not binary, not reserved. */
export function parseMetadataKey(raw: string): string {
  const text = raw.trim();
  if (!/^[0-9a-z_.-]+$/.test(text) || text.endsWith("-bin") || text.startsWith("grpc-")) {
    throw new ValueError(
      "a metadata key of lowercase letters, digits, '-', '_' or '.', not ending in -bin and not starting with grpc-",
    );
  }
  return text;
}

export function parseNonEmpty(raw: string, what: string): string {
  const text = raw.trim();
  if (text === "" || /\s/.test(text)) throw new ValueError(`${what} without spaces`);
  return text;
}

/** The bytes of a PEM file holding at least one certificate (a CA bundle), read now. */
export function parsePemFile(raw: string): Buffer {
  const path = raw.trim();
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ValueError(`a readable PEM file of CA certificates (reading it failed: ${code})`);
  }
  if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
    throw new ValueError("a PEM file of CA certificates (no BEGIN CERTIFICATE block in it)");
  }
  return pem;
}

export function parseRedisUrl(raw: string): string {
  const text = raw.trim();
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    url = undefined;
  }
  if (!url || !["redis:", "rediss:"].includes(url.protocol)) {
    throw new ValueError("a URL such as redis://127.0.0.1:6379 or rediss://user:pass@host:6380/0");
  }
  return text;
}

const BYTE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};
const SIZE = "a size such as 1048576, 512MiB, 2GiB or 1.5GB";

/** Bytes from a whole number or a number with a unit: KiB, MiB, GiB, TiB (1024s) or KB… (1000s). */
export function parseByteSize(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw.trim());
  const unit = BYTE_UNITS[(match?.[2] || "b").toLowerCase()];
  const bytes = match && unit ? Math.round(Number(match[1]) * unit) : Number.NaN;
  if (!Number.isSafeInteger(bytes)) throw new ValueError(SIZE);
  return bytes;
}

/**
 * A storage budget: `auto` (the storage's default) or a `parse`d amount; with `unlimited`,
 * also the word unlimited, and 0 means the same (Infinity: no budget). Without it 0 is 0.
 */
export function parseBudget(
  raw: string,
  parse: (raw: string) => number,
  what: string,
  { unlimited = true } = {},
): number | "auto" {
  const text = raw.trim().toLowerCase();
  if (text === "auto") return "auto";
  if (unlimited && text === "unlimited") return Number.POSITIVE_INFINITY;
  let value: number;
  try {
    value = parse(text);
  } catch {
    throw new ValueError(unlimited ? `${what}, auto, or unlimited (also 0)` : `${what}, or auto`);
  }
  return unlimited && value === 0 ? Number.POSITIVE_INFINITY : value;
}

/** A path to a file that can be read now; its content is checked where it is used. */
export function parseReadableFile(raw: string): string {
  const path = raw.trim();
  try {
    readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new ValueError(`a readable file (reading ${JSON.stringify(path)} failed: ${code})`);
  }
  return path;
}

/** Comma-separated names (certificate CNs or DNS names), none empty. */
export function parseNameList(raw: string): string[] {
  const names = raw.split(",").map((name) => name.trim());
  if (names.some((name) => name === "" || /\s/.test(name))) {
    throw new ValueError("comma-separated names without spaces, such as app1,app2.example.com");
  }
  return names;
}
