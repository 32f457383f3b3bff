import {
  DESTROY,
  HASH_APPLY,
  HASH_READ,
  HASH_READ_KEY,
  HASH_REGENERATE,
  HASH_TOUCH,
  KV_APPLY,
  KV_READ,
  KV_READ_KEY,
  KV_REGENERATE,
  KV_TOUCH,
} from "../../gen/lua.js";
import { ENCRYPTED_SCRIPTS } from "./encryptedScripts.js";

/**
 * Every script, registered with ioredis `defineCommand`. The Lua is in src/redis/lua/ (one
 * file per script, each named after its constant); `npm run gen` builds src/gen/lua.ts from it.
 * ioredis sends EVALSHA and falls back to EVAL per connection on NOSCRIPT, which is what a Cluster or a freshly promoted
 * replica needs; a hand-run SCRIPT LOAD would reach one node only. Reads take one key (the
 * session's); writes add the session's request records hash as their last key, and
 * regenerate takes the old and the new session before it.
 */
export const SCRIPTS = {
  sessiondKvRead: { lua: KV_READ, keys: 1 },
  sessiondKvReadKey: { lua: KV_READ_KEY, keys: 1 },
  sessiondKvTouch: { lua: KV_TOUCH, keys: 2 },
  sessiondKvApply: { lua: KV_APPLY, keys: 2 },
  sessiondKvRegenerate: { lua: KV_REGENERATE, keys: 3 },
  sessiondHashRead: { lua: HASH_READ, keys: 1 },
  sessiondHashReadKey: { lua: HASH_READ_KEY, keys: 1 },
  sessiondHashTouch: { lua: HASH_TOUCH, keys: 2 },
  sessiondHashApply: { lua: HASH_APPLY, keys: 2 },
  sessiondHashRegenerate: { lua: HASH_REGENERATE, keys: 3 },
  sessiondDestroy: { lua: DESTROY, keys: 2 },
} as const;

/**
 * What every node's client defines, whichever storage uses it: a plain and an encrypted
 * storage may share one client, and the encrypted ones send the plain destroy script too.
 */
export const STORAGE_SCRIPTS = { ...SCRIPTS, ...ENCRYPTED_SCRIPTS };

export type ScriptName = keyof typeof SCRIPTS;
type NamesWithKeys<N> = {
  [name in ScriptName]: (typeof SCRIPTS)[name]["keys"] extends N ? name : never;
}[ScriptName];
type OneKeyScriptName = NamesWithKeys<1>;
export type WriteScriptName = NamesWithKeys<2>;
export type RegenerateScriptName = NamesWithKeys<3>;

/**
 * Arguments go as one array, never spread into the call: a spread of a long list
 * overflows the call stack (ioredis flattens the array into the command).
 */
type Script = (key: string, args: readonly string[]) => Promise<unknown>;
type TwoKeyScript = (key: string, other: string, args: readonly string[]) => Promise<unknown>;
type ThreeKeyScript = (
  key: string,
  other: string,
  third: string,
  args: readonly string[],
) => Promise<unknown>;

/** The client as seen through defineCommand, plus the plain commands the storages use. */
export type ScriptCommands = { [name in OneKeyScriptName]: Script } & {
  [name in WriteScriptName]: TwoKeyScript;
} & {
  [name in RegenerateScriptName]: ThreeKeyScript;
} & {
  ping(): Promise<string>;
  del(key: string): Promise<number>;
  get(key: string): Promise<string | null>;
  hget(key: string, field: string): Promise<string | null>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  pexpire(key: string, ms: string): Promise<number>;
};

export type { OneKeyScriptName };
