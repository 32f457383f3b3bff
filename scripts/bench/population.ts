// The sessions every bench server is filled with, computed the same way in the server
// (to write them) and in the orchestrator (to know what a correct answer is).
import type { SessionData } from "../../src/core/json.js";

export type Shape = "small" | "large";

/** small: 5 keys of about 40 bytes (~200 B); large: 200 keys of about 200 bytes (~40 KB). */
export const SHAPES: Record<Shape, { keys: number; valueChars: number }> = {
  small: { keys: 5, valueChars: 36 },
  large: { keys: 200, valueChars: 196 },
};

/** How many sessions of each shape a server reports back (for reads and for writes). */
export const SAMPLES_PER_SHAPE = 8;

/** Session `index` of a population: its value strings are unique, so nothing is shared in memory. */
export function sessionData(index: number, shape: Shape): SessionData {
  const { keys, valueChars } = SHAPES[shape];
  const data: SessionData = {};
  for (let k = 0; k < keys; k++) data[`k${k}`] = sessionValue(index, k, valueChars);
  return data;
}

export function sessionValue(index: number, key: number, valueChars: number): string {
  const head = `${index.toString(36)}:${key}:`;
  return head + "x".repeat(Math.max(0, valueChars - head.length));
}

/** The key a Get row reads: one in the middle of the session. */
export function readKey(shape: Shape): string {
  return `k${SHAPES[shape].keys >> 1}`;
}

/** Which sessions of a population of `total` are large: the first few are, the rest are small. */
export function shapeOf(index: number): Shape {
  return index < SAMPLES_PER_SHAPE ? "large" : "small";
}

/** Payload bytes of a session as the limits count them: key bytes + value JSON bytes. */
export function payloadBytes(data: SessionData): number {
  let total = 0;
  for (const [key, value] of Object.entries(data)) {
    total += Buffer.byteLength(key) + Buffer.byteLength(JSON.stringify(value));
  }
  return total;
}

export interface SampleSession {
  id: string;
  index: number;
  shape: Shape;
}
