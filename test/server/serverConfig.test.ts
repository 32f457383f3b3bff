// parseConfig in-process: precedence, every value syntax, and the error text's shape.
// (test/server.test.ts checks the same errors end to end through the real process.)
import assert from "node:assert/strict";
import { tmpdir } from "node:os";
import { describe, test } from "node:test";
import { ConfigError } from "../../src/core/ConfigError.js";
import { defaultLimits } from "../../src/core/Limits.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { resolveConfig } from "../../src/server/config/resolveConfig.js";
import type { ServerConfig, StorageKind } from "../../src/server/config/ServerConfig.js";
import { envName, flagName } from "../../src/server/config/Setting.js";
import { SETTINGS } from "../../src/server/config/settings.js";
import { defaultFileDir } from "../../src/server/defaultFileDir.js";
import { helpText } from "../../src/server/helpText.js";
import { startServer } from "../../src/server/startServer.js";

const fails = (argv: string[], env: Record<string, string>, pattern: RegExp) =>
  assert.throws(
    () => parseConfig(argv, env),
    (err) => err instanceof ConfigError && pattern.test(err.message) && !err.message.includes("\n"),
  );

describe("server config", () => {
  test("defaults match the documented ones", () => {
    const { config, warnings } = parseConfig([], {});
    assert.deepEqual(warnings, []);
    assert.equal(config.host, "127.0.0.1");
    assert.equal(config.port, 50051);
    assert.equal(config.storage, "file");
    assert.equal(config.fileDir, defaultFileDir());
    assert.ok(!config.fileDir.startsWith(tmpdir()), "never in the shared temp directory");
    assert.equal(config.fileEncryptionKey, undefined);
    assert.equal(config.ttlMs, 24 * 3600 * 1000);
    assert.equal(config.maxLifetimeMs, undefined);
    assert.equal(config.adoptUnknownIds, false);
    assert.equal(config.metadataKey, "x-session-id");
    assert.equal(config.maxKeyBytes, defaultLimits.maxKeyBytes);
    assert.equal(config.maxValueBytes, defaultLimits.maxValueBytes);
    assert.equal(config.maxKeys, defaultLimits.maxKeys);
    assert.equal(config.maxSessionBytes, defaultLimits.maxSessionBytes);
    assert.equal(config.redisPrefix, "sessiond:");
    assert.equal(config.redisTimeoutMs, 1000);
    assert.equal(config.shutdownGraceMs, 10_000);
    assert.equal(config.healthCheckIntervalMs, 5000);
  });

  test("flags win over environment variables, which win over defaults", () => {
    const env = { SESSIOND_PORT: "7000", SESSIOND_HOST: "::1" };
    assert.equal(parseConfig([], env).config.port, 7000);
    assert.equal(parseConfig(["--port", "7001"], env).config.port, 7001);
    assert.equal(parseConfig(["--port=7002"], env).config.port, 7002);
    assert.equal(parseConfig(["--port=7002"], env).config.host, "::1");
  });

  test("every setting has a distinct env var and flag, derived from one name", () => {
    const envs = new Set(SETTINGS.map(envName));
    const flags = new Set(SETTINGS.map(flagName));
    assert.equal(envs.size, SETTINGS.length);
    assert.equal(flags.size, SETTINGS.length);
    for (const setting of SETTINGS) {
      assert.match(envName(setting), /^SESSIOND_[A-Z0-9_]+$/);
      assert.ok(helpText().includes(envName(setting)));
      assert.ok(setting.description.length > 0);
    }
    for (const name of [
      "SESSIOND_REDIS_URL",
      "SESSIOND_REDIS_CLUSTER_NODES",
      "SESSIOND_REDIS_SENTINELS",
      "SESSIOND_REDIS_SENTINEL_NAME",
      "SESSIOND_REDIS_PREFIX",
      "SESSIOND_REDIS_TIMEOUT_MS",
    ]) {
      assert.ok(envs.has(name), name);
    }
  });

  test("durations: milliseconds, units and compounds", () => {
    const ttl = (raw: string) => parseConfig(["--ttl", raw], {}).config.ttlMs;
    assert.equal(ttl("1500"), 1500);
    assert.equal(ttl("500ms"), 500);
    assert.equal(ttl("30s"), 30_000);
    assert.equal(ttl("15m"), 900_000);
    assert.equal(ttl("24h"), 86_400_000);
    assert.equal(ttl("7d"), 604_800_000);
    assert.equal(ttl("1h30m"), 5_400_000);
    assert.equal(ttl("1.5s"), 1500);
    for (const bad of ["0", "0s", "-1", "1x", "s", "", "1 h", "1e3"]) {
      fails(["--ttl", bad], {}, /^--ttl \(SESSIOND_TTL\): expected a duration/);
    }
    assert.equal(parseConfig(["--shutdown-grace", "0"], {}).config.shutdownGraceMs, 0);
  });

  test("booleans, bare boolean flags and choices", () => {
    assert.equal(parseConfig(["--adopt-unknown-ids"], {}).config.adoptUnknownIds, true);
    assert.equal(
      parseConfig(["--adopt-unknown-ids", "--port", "1"], {}).config.adoptUnknownIds,
      true,
    );
    assert.equal(parseConfig(["--adopt-unknown-ids=no"], {}).config.adoptUnknownIds, false);
    assert.equal(
      parseConfig([], { SESSIOND_ADOPT_UNKNOWN_IDS: "TRUE" }).config.adoptUnknownIds,
      true,
    );
    fails(["--adopt-unknown-ids=maybe"], {}, /expected true or false; got "maybe"/);
    for (const kind of ["file", "memory", "redis", "redis-hash"]) {
      assert.equal(parseConfig(["--storage", kind], {}).config.storage, kind);
    }
    fails(["--storage", "disk"], {}, /expected one of file, memory, redis, redis-hash/);
  });

  test("encryption keys: 64 hex digits or base64 of 32 bytes; never echoed", () => {
    const key = Buffer.alloc(32, 7);
    const parse = (raw: string) => parseConfig([], { SESSIOND_FILE_ENCRYPTION_KEY: raw }).config;
    assert.deepEqual(parse(key.toString("hex")).fileEncryptionKey, key);
    assert.deepEqual(parse(key.toString("base64")).fileEncryptionKey, key);
    assert.deepEqual(parse(key.toString("base64url")).fileEncryptionKey, key);
    for (const bad of ["abcd", key.toString("hex").slice(2), Buffer.alloc(31).toString("base64")]) {
      assert.throws(
        () => parse(bad),
        (err) =>
          err instanceof ConfigError &&
          /SESSIOND_FILE_ENCRYPTION_KEY.*32-byte key.*\(value hidden\)/.test(err.message) &&
          !err.message.includes(bad),
      );
    }
  });

  test("a flag that would carry a secret is refused in one line pointing to the variable or the file; the variable works", () => {
    const key = Buffer.alloc(32, 9).toString("hex");
    for (const [flag, value, pointer] of [
      ["--encryption-keys", key, /; set SESSIOND_ENCRYPTION_KEYS, or use --encryption-key-file$/],
      [
        "--file-encryption-key",
        key,
        /; set SESSIOND_FILE_ENCRYPTION_KEY, or use --encryption-key-file$/,
      ],
      ["--redis-url", "redis://:s3cret-pass@cache:6379", /; set SESSIOND_REDIS_URL instead$/],
      ["--redis-url", "rediss://app:s3cret-pass@cache:6380/2", /; set SESSIOND_REDIS_URL instead$/],
    ] as const) {
      for (const argv of [[flag, value], [`${flag}=${value}`], [flag, "not even valid"]]) {
        if (flag === "--redis-url" && argv[1] === "not even valid") continue;
        assert.throws(
          () => parseConfig(argv, {}),
          (err) =>
            err instanceof ConfigError &&
            err.message.startsWith(`${flag} (`) &&
            /refused on the command line, where every local user can read it \(ps\)/.test(
              err.message,
            ) &&
            pointer.test(err.message) &&
            !err.message.includes("s3cret") &&
            !err.message.includes(key),
          argv.join(" "),
        );
      }
    }
    // Refused whatever the value, so that no key is ever parsed from argv.
    fails(["--encryption-keys", "short"], {}, /refused on the command line/);
    const env = parseConfig([], {
      SESSIOND_STORAGE: "redis",
      SESSIOND_ENCRYPTION_KEYS: key,
      SESSIOND_REDIS_URL: "redis://:s3cret-pass@cache:6379",
    }).config;
    assert.equal(env.encryptionKeys?.length, 1);
    assert.equal(env.redisUrl, "redis://:s3cret-pass@cache:6379");
    // A Redis URL without a password is no secret: the flag stays.
    assert.equal(
      parseConfig(["--storage", "redis", "--redis-url", "redis://cache:6379"], {}).config.redisUrl,
      "redis://cache:6379",
    );
    // Every setting the table marks secret and that always carries one is env-only.
    for (const s of SETTINGS) {
      if (s.secret && s.name !== "REDIS_URL") assert.ok(s.notAsFlag, s.name);
    }
  });

  test("host:port lists, IPv6 in brackets", () => {
    const { config } = parseConfig(
      [
        "--storage",
        "redis",
        "--redis-sentinels",
        "10.0.0.1:26379, [::1]:26380",
        "--redis-sentinel-name",
        "main",
      ],
      {},
    );
    assert.deepEqual(config.redisSentinels, [
      { host: "10.0.0.1", port: 26379 },
      { host: "::1", port: 26380 },
    ]);
    for (const bad of ["host", "host:0", "host:99999", ":1", ","]) {
      fails(["--redis-cluster-nodes", bad], {}, /SESSIOND_REDIS_CLUSTER_NODES.*host:port/);
    }
    fails(["--storage", "redis", "--redis-sentinels", "s:1"], {}, /SESSIOND_REDIS_SENTINEL_NAME/);
  });

  test("metadata keys must be valid, non-binary, non-reserved gRPC metadata names", () => {
    assert.equal(parseConfig(["--metadata-key", "x-sid"], {}).config.metadataKey, "x-sid");
    for (const bad of ["X-Sid", "x sid", "x-sid-bin", "grpc-session", ""]) {
      fails(["--metadata-key", bad], {}, /SESSIOND_METADATA_KEY/);
    }
  });

  test("limits and ports are whole numbers in range", () => {
    fails(
      ["--max-keys", "0"],
      {},
      /--max-keys \(SESSIOND_MAX_KEYS\): expected a whole number of at least 1; got "0"/,
    );
    fails(["--max-key-bytes", "12.5"], {}, /SESSIOND_MAX_KEY_BYTES/);
    fails(
      [],
      { SESSIOND_PORT: "65536" },
      /^SESSIOND_PORT \(--port\): expected a whole number from 0 to 65535/,
    );
    assert.equal(parseConfig(["--port", "0"], {}).config.port, 0);
  });

  test("command-line mistakes; an unknown flag names the nearest one", () => {
    fails(["--port"], {}, /^--port \(SESSIOND_PORT\): expected a value after it$/);
    fails(["--nope"], {}, /^unknown option "--nope": expected one of the flags listed by --help$/);
    fails(["extra"], {}, /unexpected argument "extra"/);
    fails(
      ["--stroage", "memory"],
      {},
      /^unknown option "--stroage": did you mean --storage\? \(--help lists the flags\)$/,
    );
    fails(["--max-value-byte=1"], {}, /did you mean --max-value-bytes\?/);
    fails(["--redis-urls=redis://x"], {}, /did you mean --redis-url\?/);
  });

  test("an unknown SESSIOND_ variable is refused, naming the nearest setting", () => {
    fails(
      [],
      { SESSIOND_PROT: "1", OTHER: "x" },
      /^unknown environment variable SESSIOND_PROT: did you mean SESSIOND_PORT\? \(remove or rename it; --help lists the settings\)$/,
    );
    fails([], { SESSIOND_REDIS_UR: "redis://x" }, /did you mean SESSIOND_REDIS_URL\?/);
    fails([], { SESSIOND_MAXVALUE_BYTES: "1" }, /did you mean SESSIOND_MAX_VALUE_BYTES\?/);
    fails(
      [],
      { SESSIOND_COMPLETELY_DIFFERENT: "1" },
      /^unknown environment variable SESSIOND_COMPLETELY_DIFFERENT: no setting has this name; remove it, or see --help for the settings$/,
    );
    // Before any value is read: the typo, not what it left out, is what the line names.
    fails(
      [],
      { SESSIOND_STORGE: "redis", SESSIOND_REDIS_URL: "redis://x" },
      /SESSIOND_STORGE: did you mean SESSIOND_STORAGE\?/,
    );
    // The documented exceptions: the test harness's variables, and SESSIOND_TEST_*.
    const env = { SESSIOND_DIFF_SEED: "7", SESSIOND_GRPC_JS: "x", SESSIOND_TEST_TOKEN: "t" };
    assert.deepEqual(parseConfig([], env).warnings, []);
    // Variables outside the prefix are none of sessiond's business.
    assert.equal(parseConfig([], { PORT: "1", sessiond_port: "2" }).config.port, 50051);
  });

  test("a setting its storage does not read is refused, naming the fix; the table says which", () => {
    fails(
      [],
      { SESSIOND_REDIS_URL: "redis://cache:6379" },
      /^SESSIOND_REDIS_URL \(--redis-url\): read by the redis and redis-hash storages only, and SESSIOND_STORAGE is file \(the default\); set SESSIOND_STORAGE=redis or redis-hash, or remove SESSIOND_REDIS_URL$/,
    );
    fails(
      ["--storage", "memory", "--file-dir", "/tmp/x"],
      {},
      /^--file-dir \(SESSIOND_FILE_DIR\): read by the file storage only, and --storage is memory; set --storage file, or remove --file-dir$/,
    );
    fails(
      ["--memory-max-bytes", "1MiB"],
      { SESSIOND_STORAGE: "redis-hash" },
      /^--memory-max-bytes \(SESSIOND_MEMORY_MAX_BYTES\): read by the memory storage only, and SESSIOND_STORAGE is redis-hash; set SESSIOND_STORAGE=memory, or remove --memory-max-bytes$/,
    );
    // Keys encrypt what is stored outside the process: the memory storage has nothing to.
    fails(
      [],
      { SESSIOND_STORAGE: "memory", SESSIOND_ENCRYPTION_KEYS: "ab".repeat(32) },
      /^SESSIOND_ENCRYPTION_KEYS \(--encryption-keys\): read by the file, redis and redis-hash storages only/,
    );
    // Every setting that names storages is refused with each other storage, accepted with its own.
    const kinds: StorageKind[] = ["file", "memory", "redis", "redis-hash"];
    const sample: Record<string, string> = {
      FILE_ENCRYPTION_KEY: "ab".repeat(32),
      ENCRYPTION_KEYS: "ab".repeat(32),
      ID_HASH_KEY_FILE: "/nonexistent",
      ENCRYPTION_KEY_FILE: "/nonexistent",
      REDIS_TLS_CA_FILE: "/nonexistent",
      REDIS_SENTINELS: "s:26379",
      REDIS_URL: "redis://cache:6379",
      REDIS_CLUSTER_NODES: "a:1",
    };
    let checked = 0;
    for (const s of SETTINGS) {
      if (s.storages === undefined) continue;
      const raw = sample[s.name] ?? s.default ?? "1";
      for (const kind of kinds.filter((k) => !s.storages?.includes(k))) {
        // Read files and the like only with a storage that reads them: refused before.
        if (sample[s.name]?.startsWith("/")) continue;
        fails(
          [],
          { SESSIOND_STORAGE: kind, [envName(s)]: raw },
          new RegExp(`^${envName(s)} .*read by`),
        );
        checked++;
      }
    }
    assert.ok(checked >= 30, `only ${checked} combinations checked`);
    // Defaults never count: the file storage's directory has one, and memory starts.
    assert.equal(parseConfig(["--storage", "memory"], {}).config.storage, "memory");
    // With the storage that reads them, the same settings pass.
    assert.equal(
      parseConfig(["--storage", "memory", "--memory-max-bytes", "1MiB"], {}).config.memoryMaxBytes,
      1024 * 1024,
    );
  });

  test("a setting given without the one it works with is refused", () => {
    fails(
      ["--metrics-host", "0.0.0.0"],
      {},
      /^--metrics-host \(SESSIOND_METRICS_HOST\): does nothing without SESSIOND_METRICS_PORT \(--metrics-port\); set --metrics-port too, or remove --metrics-host$/,
    );
    fails(
      [],
      { SESSIOND_STORAGE: "redis", SESSIOND_REDIS_SENTINEL_NAME: "main" },
      /^SESSIOND_REDIS_SENTINEL_NAME \(--redis-sentinel-name\): does nothing without SESSIOND_REDIS_SENTINELS/,
    );
    fails(
      ["--storage", "redis", "--redis-wait-timeout", "100ms"],
      {},
      /does nothing without SESSIOND_REDIS_WAIT_REPLICAS/,
    );
    assert.equal(
      parseConfig(["--metrics-host", "::1", "--metrics-port", "0"], {}).config.metricsHost,
      "::1",
    );
    // Every `needs` names a setting of the table.
    const names = new Set(SETTINGS.map((s) => s.name));
    for (const s of SETTINGS) if (s.needs !== undefined) assert.ok(names.has(s.needs), s.name);
  });

  test("resolveConfig fills what a partial config leaves out", () => {
    const config = resolveConfig({ port: 0, storage: "memory", maxLifetimeMs: undefined });
    assert.equal(config.port, 0);
    assert.equal(config.storage, "memory");
    assert.equal(config.ttlMs, 86_400_000);
    assert.equal(config.metadataKey, "x-session-id");
  });

  test("object options are validated like their env vars, before anything starts", async () => {
    const refuses = (overrides: Record<string, unknown>, pattern: RegExp) =>
      assert.throws(
        () => resolveConfig(overrides as Partial<ServerConfig>),
        (err) => err instanceof ConfigError && pattern.test(err.message),
      );
    refuses(
      { storage: "bogus" },
      /^option storage \(SESSIOND_STORAGE\): expected one of file, memory, redis, redis-hash; got "bogus"$/,
    );
    refuses(
      { port: 70_000 },
      /^option port \(SESSIOND_PORT\): expected a whole number from 0 to 65535/,
    );
    refuses({ ttlMs: 1.5 }, /^option ttlMs \(SESSIOND_TTL\): expected a duration/);
    refuses(
      { ttlMs: "30s" as unknown as number, port: {} },
      /^option port \(SESSIOND_PORT\): expected a number; got an object$/,
    );
    refuses({ storag: "memory" }, /^option storag: unknown setting/);
    // What the env var accepts, the option accepts, parsed the same way.
    assert.equal(resolveConfig({ ttlMs: "30s" as unknown as number }).ttlMs, 30_000);
    // Through startServer: a ConfigError at start, and no storage of another kind behind it.
    await assert.rejects(
      startServer({ port: 0, storage: "bogus" as StorageKind }),
      (err) => err instanceof ConfigError && /SESSIOND_STORAGE/.test(err.message),
    );
  });
});
