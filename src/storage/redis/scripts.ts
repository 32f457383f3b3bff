import { HASH_APPLY, HASH_READ, HASH_READ_KEY, HASH_TOUCH } from "./hashScripts.js";
import { KV_APPLY, KV_READ, KV_READ_KEY, KV_TOUCH } from "./kvScripts.js";

/**
 * Every script, registered with ioredis `defineCommand` (one key each): ioredis sends
 * EVALSHA and falls back to EVAL per connection on NOSCRIPT, which is what a Cluster or a
 * freshly promoted replica needs; a hand-run SCRIPT LOAD would reach one node only.
 */
export const SCRIPTS = {
  sessiondKvRead: KV_READ,
  sessiondKvReadKey: KV_READ_KEY,
  sessiondKvTouch: KV_TOUCH,
  sessiondKvApply: KV_APPLY,
  sessiondHashRead: HASH_READ,
  sessiondHashReadKey: HASH_READ_KEY,
  sessiondHashTouch: HASH_TOUCH,
  sessiondHashApply: HASH_APPLY,
} as const;

export type ScriptName = keyof typeof SCRIPTS;

type Script = (key: string, ...args: string[]) => Promise<unknown>;

/** The client as seen through defineCommand, plus the plain commands the storages use. */
export type ScriptCommands = { [name in ScriptName]: Script } & {
  ping(): Promise<string>;
  del(key: string): Promise<number>;
  get(key: string): Promise<string | null>;
  hget(key: string, field: string): Promise<string | null>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  pexpire(key: string, ms: string): Promise<number>;
};
