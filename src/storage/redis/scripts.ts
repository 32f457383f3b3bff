import {
  HASH_APPLY,
  HASH_READ,
  HASH_READ_KEY,
  HASH_REGENERATE,
  HASH_TOUCH,
} from "./hashScripts.js";
import { KV_APPLY, KV_READ, KV_READ_KEY, KV_REGENERATE, KV_TOUCH } from "./kvScripts.js";

/**
 * Every script, registered with ioredis `defineCommand`: ioredis sends EVALSHA and falls
 * back to EVAL per connection on NOSCRIPT, which is what a Cluster or a freshly promoted
 * replica needs; a hand-run SCRIPT LOAD would reach one node only. Scripts take one key
 * (the session's) except regenerate, which takes the old and the new one.
 */
export const SCRIPTS = {
  sessiondKvRead: { lua: KV_READ, keys: 1 },
  sessiondKvReadKey: { lua: KV_READ_KEY, keys: 1 },
  sessiondKvTouch: { lua: KV_TOUCH, keys: 1 },
  sessiondKvApply: { lua: KV_APPLY, keys: 1 },
  sessiondKvRegenerate: { lua: KV_REGENERATE, keys: 2 },
  sessiondHashRead: { lua: HASH_READ, keys: 1 },
  sessiondHashReadKey: { lua: HASH_READ_KEY, keys: 1 },
  sessiondHashTouch: { lua: HASH_TOUCH, keys: 1 },
  sessiondHashApply: { lua: HASH_APPLY, keys: 1 },
  sessiondHashRegenerate: { lua: HASH_REGENERATE, keys: 2 },
} as const;

export type ScriptName = keyof typeof SCRIPTS;
type OneKeyScriptName = {
  [name in ScriptName]: (typeof SCRIPTS)[name]["keys"] extends 1 ? name : never;
}[ScriptName];
export type RegenerateScriptName = Exclude<ScriptName, OneKeyScriptName>;

/**
 * Arguments go as one array, never spread into the call: a spread of a long list
 * overflows the call stack (ioredis flattens the array into the command).
 */
type Script = (key: string, args: readonly string[]) => Promise<unknown>;
type TwoKeyScript = (key: string, other: string, args: readonly string[]) => Promise<unknown>;

/** The client as seen through defineCommand, plus the plain commands the storages use. */
export type ScriptCommands = { [name in OneKeyScriptName]: Script } & {
  [name in RegenerateScriptName]: TwoKeyScript;
} & {
  ping(): Promise<string>;
  del(key: string): Promise<number>;
  get(key: string): Promise<string | null>;
  hget(key: string, field: string): Promise<string | null>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  pexpire(key: string, ms: string): Promise<number>;
};

export type { OneKeyScriptName };
