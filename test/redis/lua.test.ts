// The Lua under src/redis/lua/: every built script loads into a real Redis (a syntax error
// fails here, not on a user's first write), every file is used, and each script runs with
// redis-cli --eval as docs/ARCHITECTURE.md says.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Redis } from "ioredis";
import { MAX_REQUEST_RECORDS } from "../../src/core/storage/Storage.js";
import * as LUA from "../../src/gen/lua.js";
import { ENCRYPTED_SCRIPTS } from "../../src/redis/storage/encryptedScripts.js";
import { SCRIPTS } from "../../src/redis/storage/scripts.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";

const LUA_DIR = join(import.meta.dirname, "..", "..", "src", "redis", "lua");
const GEN_LUA = join(import.meta.dirname, "..", "..", "scripts", "gen-lua.mjs");
const BUILT: Readonly<Record<string, string>> = LUA;
const COMMANDS = { ...SCRIPTS, ...ENCRYPTED_SCRIPTS };

const luaFiles = (dir: string): string[] =>
  readdirSync(dir)
    .filter((file) => file.endsWith(".lua"))
    .sort();
const scriptFiles = luaFiles(LUA_DIR);
const libFiles = luaFiles(join(LUA_DIR, "lib")).map((file) => `lib/${file}`);
const includesOf = (file: string): string[] =>
  [...readFileSync(join(LUA_DIR, file), "utf8").matchAll(/-- #include (\S+)\n/g)].map(
    (found) => found[1] as string,
  );

describe("Lua scripts", () => {
  test("each script file is one constant of src/gen/lua.ts, sent by exactly one command", () => {
    const constants = scriptFiles.map((file) => file.slice(0, -".lua".length).toUpperCase());
    assert.deepEqual(Object.keys(BUILT).sort(), [...constants].sort());
    for (const name of constants) {
      const users = Object.entries(COMMANDS).filter(([, script]) => script.lua === BUILT[name]);
      assert.equal(users.length, 1, `${name} is sent by ${users.map(([command]) => command)}`);
    }
    assert.equal(Object.keys(COMMANDS).length, constants.length, "a command without a file");
  });

  test("each lib/ file is included by some script, and scripts include only lib/ files", () => {
    const included = new Set<string>();
    const pending = [...scriptFiles];
    for (let file = pending.pop(); file !== undefined; file = pending.pop()) {
      for (const target of includesOf(file)) {
        assert.ok(libFiles.includes(target), `${file} includes ${target}, not a lib/ file`);
        if (!included.has(target)) pending.push(target);
        included.add(target);
      }
    }
    assert.deepEqual([...included].sort(), libFiles);
  });

  test("the request-record cap in idempotency.lua is MAX_REQUEST_RECORDS", () => {
    const text = readFileSync(join(LUA_DIR, "lib", "idempotency.lua"), "utf8");
    assert.match(text, new RegExp(`\\nlocal IDEM_CAP = ${MAX_REQUEST_RECORDS}\\n`));
  });

  describe("on a real Redis", () => {
    let redis: RedisProcess;
    let client: Redis;
    before(async () => {
      redis = await startRedis();
      client = new Redis(redis.url, { lazyConnect: true });
      client.on("error", () => {});
      await client.connect();
    });
    after(async () => {
      client.disconnect();
      await redis.stop();
    });

    test("every built script compiles (SCRIPT LOAD), under the digest ioredis sends", async () => {
      for (const [name, text] of Object.entries(BUILT)) {
        const sha = await client.script("LOAD", text);
        assert.equal(sha, createHash("sha1").update(text).digest("hex"), name);
      }
    });

    test("a syntax error is refused by SCRIPT LOAD (so the test above can fail)", async () => {
      await assert.rejects(client.script("LOAD", `${BUILT.KV_READ}\nlocal = 1\n`), /Error/);
    });

    test("a script runs with redis-cli --eval, as built by gen-lua.mjs --print", () => {
      const key = "{lua-test}session";
      redis.cli("SET", key, '{"v":3,"c":1000,"d":{"a":"1"}}');
      const script = spawnSync(process.execPath, [GEN_LUA, "--print", "kv_read_key"], {
        encoding: "utf8",
      });
      assert.equal(script.status, 0, script.stderr);
      assert.equal(script.stdout, BUILT.KV_READ_KEY);
      // A file, not /dev/stdin: Node's stdio pipes are sockets, which cannot be opened by name.
      const file = join(redis.dir, "kv_read_key.lua");
      writeFileSync(file, script.stdout);
      const run = spawnSync(
        "redis-cli",
        ["-p", String(redis.port), "--eval", file, key, ",", "60000", "", "a"],
        { encoding: "utf8" },
      );
      assert.equal(run.stdout.trim(), "1\n1", run.stderr);
      // The slide happened: the TTL is the idle TTL given as ARGV[1].
      const ttl = Number(redis.cli("PTTL", key));
      assert.ok(ttl > 50_000 && ttl <= 60_000, `PTTL ${ttl}`);
    });
  });
});
