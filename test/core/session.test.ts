import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ConfigError } from "../../src/core/ConfigError.js";
import type { JsonValue } from "../../src/core/json.js";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { SessionError } from "../../src/core/SessionError.js";
import { ID_LENGTH, isValidSessionId, newSessionId } from "../../src/core/session/ids.js";
import { Manager } from "../../src/core/session/Manager.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { listTree, tempDir } from "../support/coreFixtures.js";

const cleanups: Array<() => void> = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

function isCode(code: SessionError["code"], text?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SessionError, `expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (text) assert.match(err.message, text);
    return true;
  };
}

/** A Manager over a FileStorage in `<tmp>/sessiond-session-XXX/store`. */
function fileManager(options: ConstructorParameters<typeof Manager>[0] = {}) {
  const parent = tempDir("session");
  cleanups.push(parent.cleanup);
  const dir = join(parent.path, "store");
  // Raw ids: the tests look for `<id>.session` (test/file/fileIdNames.test.ts: hashed names).
  const storage = new FileStorage({ dir, logger: silentLogger, ids: "raw" });
  const manager = new Manager({ storage, logger: silentLogger, ...options });
  return { manager, storage, dir, parent: parent.path };
}

const ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/**
 * Pearson's chi-square statistic of character counts over the 36-letter alphabet
 * (35 degrees of freedom: mean 35, standard deviation about 8.4).
 */
function chiSquare(ids: string[]): number {
  const counts = new Map<string, number>();
  let total = 0;
  for (const id of ids) {
    for (const ch of id) {
      counts.set(ch, (counts.get(ch) ?? 0) + 1);
      total++;
    }
  }
  const expected = total / ALPHABET.length;
  let chi = 0;
  for (const ch of ALPHABET) chi += ((counts.get(ch) ?? 0) - expected) ** 2 / expected;
  return chi;
}

/** 35 dof: P(chi² > 120) is about 1e-11, while a `byte % 36` generator scores over 1000. */
const CHI_SQUARE_BOUND = 120;

describe("session ids", () => {
  it("are 32 characters of [0-9a-z], distinct", () => {
    const ids = Array.from({ length: 10_000 }, newSessionId);
    for (const id of ids) {
      assert.equal(id.length, ID_LENGTH);
      assert.match(id, /^[0-9a-z]{32}$/);
      assert.ok(isValidSessionId(id));
    }
    assert.equal(new Set(ids).size, ids.length);
  });

  it("are uniform over the alphabet (a chi-square check that catches modulo bias)", () => {
    const ids = Array.from({ length: 20_000 }, newSessionId);
    const chi = chiSquare(ids);
    assert.ok(chi < CHI_SQUARE_BOUND, `chi-square ${chi.toFixed(1)} over ${CHI_SQUARE_BOUND}`);

    // The same check rejects the classic mistake, so it is able to fail.
    const biased = Array.from({ length: 20_000 }, () =>
      Array.from(randomBytes(32), (b) => ALPHABET[b % 36]).join(""),
    );
    const biasedChi = chiSquare(biased);
    assert.ok(biasedChi > CHI_SQUARE_BOUND, `biased generator scored only ${biasedChi}`);
  });
});

describe("bad ids", () => {
  const BAD_IDS: Array<[string, unknown]> = [
    ["../x", "../x"],
    ["a/b", "a/b"],
    ["empty", ""],
    ["33 chars", "a".repeat(33)],
    ["31 chars", "a".repeat(31)],
    ["uppercase", "A".repeat(32)],
    ["NUL byte", `${"a".repeat(31)}\u0000`],
    ["10 KB", "a".repeat(10 * 1024)],
    ["traversal of the right length", `../../${"a".repeat(26)}`],
    ["a dot", `${"a".repeat(31)}.`],
    ["not a string", 12345],
  ];

  it("are rejected with invalid_argument before any storage sees them, creating no file", async () => {
    const { manager, storage, parent } = fileManager();
    const before = listTree(parent);
    for (const [name, id] of BAD_IDS) {
      assert.throws(
        () => manager.session(id as string),
        isCode("invalid_argument", /malformed session id/),
        name,
      );
      try {
        manager.session(id as string);
      } catch (err) {
        const message = (err as Error).message;
        if (typeof id === "string" && id.length > 3) {
          assert.ok(!message.includes(id), `${name}: the id is not echoed`);
        }
      }
    }
    assert.deepEqual(listTree(parent), before, "nothing created in the storage dir or its parent");
    await storage.close();
  });

  it("from a custom generator fail the write instead of reaching storage", async () => {
    const { manager, storage, dir } = fileManager({ generateId: () => "../escape" });
    const s = manager.session();
    s.set("a", 1);
    await assert.rejects(s.commit(), isCode("invalid_argument"));
    assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
    await storage.close();
  });

  it("a constant custom generator cannot overwrite a session: the collision is refused", async () => {
    const fixed = newSessionId();
    const storage = new MemoryStorage();
    const m = new Manager({ storage, logger: silentLogger, generateId: () => fixed });
    const first = m.session();
    first.set("owner", "first");
    await first.commit();
    const second = m.session();
    second.set("owner", "second");
    await assert.rejects(second.commit(), isCode("internal", /unused session id/));
    assert.equal(await m.session(fixed).get("owner"), "first");
    await storage.close();
  });
});

describe("bad keys and values", () => {
  const storage = new MemoryStorage();
  after(() => storage.close());
  const m = new Manager({
    storage,
    logger: silentLogger,
    limits: { maxKeyBytes: 16, maxValueBytes: 64, maxKeys: 3, maxSessionBytes: 100 },
  });

  it("are rejected with typed errors and queue nothing", () => {
    const s = m.session();
    const badKeys: unknown[] = ["", "k".repeat(17), "\uD800lone", 7, undefined];
    for (const key of badKeys) {
      assert.throws(() => s.set(key as string, 1), isCode("invalid_argument"), String(key));
      assert.throws(() => s.remove(key as string), isCode("invalid_argument"), String(key));
      assert.throws(() => s.increment(key as string), isCode("invalid_argument"), String(key));
    }
    const sparse: unknown[] = [1];
    sparse[2] = 3; // a hole at index 1
    const badValues: unknown[] = [
      undefined,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      10n,
      () => 1,
      Symbol("s"),
      new Date(),
      new Map(),
      sparse,
      { nested: { fn: () => 1 } },
      "\uDC00",
      { "\uD800": 1 },
    ];
    for (const value of badValues) {
      assert.throws(() => s.set("k", value as JsonValue), isCode("invalid_argument"));
    }
    let deep: JsonValue = 1;
    for (let i = 0; i < 70; i++) deep = [deep];
    assert.throws(() => s.set("k", deep), isCode("invalid_argument", /nested deeper/));
    assert.throws(() => s.set("k", "x".repeat(65)), isCode("resource_exhausted", /maxValueBytes/));
    assert.throws(() => s.increment("n", Number.NaN), isCode("invalid_argument"));
    assert.throws(() => s.setMap(null as never), isCode("invalid_argument"));
    assert.throws(() => s.setMap([1] as never), isCode("invalid_argument"));
    assert.throws(() => s.setMap({ ok: 1, bad: undefined as never }), isCode("invalid_argument"));
    assert.equal(s.isDirty, false, "nothing was queued");
  });

  it("over maxKeys or maxSessionBytes fail the commit and write nothing", async () => {
    const s = m.session();
    s.setMap({ a: 1, b: 2, c: 3, d: 4 });
    await assert.rejects(s.commit(), isCode("resource_exhausted", /maxKeys=3/));
    assert.equal(s.id, undefined, "no session was created");
    assert.equal(storage.size, 0);
    s.setMap({ a: "x".repeat(50), b: "y".repeat(50) });
    await assert.rejects(s.commit(), isCode("resource_exhausted", /maxSessionBytes=100/));
    assert.equal(storage.size, 0);
  });
});

describe("Session semantics on the file storage", () => {
  it("overlapping commits of one Session run one after another, in order; a refused one does not block the next", async () => {
    const { manager, storage } = fileManager();
    const s = manager.session();
    s.set("a", 1);
    const first = s.commit(); // creates the session: the next must wait for its id
    s.set("b", 2);
    const second = s.commit(); // takes what is queued when it starts
    const nothing = s.commit(); // nothing left by the time it runs
    assert.equal((await first)?.version, 1);
    assert.equal((await second)?.version, 2);
    assert.equal(await nothing, undefined);
    s.set("c", 3);
    const stale = s.commit({ expectedVersion: 7 }); // starts at once with [c]
    s.increment("n", 5);
    const later = s.commit(); // waits for the refused one, then applies [n]
    await assert.rejects(stale, isCode("aborted"));
    assert.equal((await later)?.version, 3);
    assert.deepEqual(await manager.session(s.id).data(), { a: 1, b: 2, n: 5 });
    // removeAll waits for a commit in flight, even one that fails, then deletes.
    s.set("c", 3);
    const refused = s.commit({ expectedVersion: 1 });
    await s.removeAll();
    await assert.rejects(refused, isCode("aborted"));
    assert.deepEqual(await manager.session(s.id).data(), {});
    // And the Session still commits afterwards.
    s.set("d", 4);
    assert.equal((await s.commit())?.version, 1);
    await storage.close();
  });

  it("an unknown id + write gets a fresh id; no file is ever made for the supplied one", async () => {
    const { manager, storage, dir } = fileManager();
    const planted = newSessionId();
    const s = manager.session(planted);
    s.set("user", "alice");
    await s.commit();
    assert.ok(s.id && s.id !== planted);
    assert.equal(s.idIssued, true);
    assert.deepEqual(readdirSync(dir), [`${s.id}.session`]);
    assert.equal(await manager.session(planted).get("user"), undefined);
    assert.deepEqual(readdirSync(dir), [`${s.id}.session`], "reading it created nothing");
    await storage.close();
  });

  it("adoptUnknownIds keeps the supplied id (gsession's behaviour, opt-in)", async () => {
    const { manager, storage, dir } = fileManager({ adoptUnknownIds: true });
    const chosen = newSessionId();
    const s = manager.session(chosen);
    s.set("user", "bob");
    await s.commit();
    assert.equal(s.id, chosen);
    assert.deepEqual(readdirSync(dir), [`${chosen}.session`]);
    await storage.close();
  });

  it("removing keys from a missing session creates nothing, even when adopting ids", async () => {
    for (const adoptUnknownIds of [false, true]) {
      const { manager, storage, dir } = fileManager({ adoptUnknownIds });
      const s = manager.session(newSessionId());
      s.remove("a", "b");
      assert.equal(await s.commit(), undefined);
      const t = manager.session();
      t.remove("a");
      assert.equal(await t.commit(), undefined);
      assert.equal(t.id, undefined);
      assert.deepEqual(readdirSync(dir), [], `adoptUnknownIds=${adoptUnknownIds}`);
      await storage.close();
    }
  });

  it("oversize writes leave the file byte-for-byte as it was", async () => {
    const { manager, storage, dir } = fileManager({ limits: { maxKeys: 2 } });
    const s = manager.session();
    s.set("a", 1);
    await s.commit();
    const path = join(dir, `${s.id}.session`);
    const before = readFileSync(path);
    const t = manager.session(s.id);
    t.setMap({ b: 2, c: 3 });
    await assert.rejects(t.commit(), isCode("resource_exhausted"));
    assert.deepEqual(readFileSync(path), before);
    assert.deepEqual(readdirSync(dir), [`${s.id}.session`], "no temp file left");
    await storage.close();
  });

  it("reads its own pending writes before commit, and commits them as one delta", async () => {
    const { manager, storage } = fileManager();
    const s = manager.session();
    s.set("a", 1);
    s.setMap({ b: 2, c: 3 });
    s.remove("b");
    s.increment("n", 2);
    assert.deepEqual(await s.data(), { a: 1, c: 3, n: 2 });
    assert.equal(await s.size(), 3);
    assert.equal(await s.contains("b"), false);
    const result = await s.commit();
    assert.equal(result?.version, 1, "all queued ops went as one delta");
    assert.equal(s.isDirty, false);
    assert.equal(s.version, 1);
    assert.equal(await s.commit(), undefined, "nothing left to commit");
    await storage.close();
  });

  it("removeAll with queued writes drops them and hard-deletes the file", async () => {
    const { manager, storage, dir } = fileManager();
    const s = manager.session();
    s.set("a", 1);
    await s.commit();
    const t = manager.session(s.id);
    t.set("b", 2);
    await t.removeAll();
    assert.equal(t.isDirty, false);
    assert.deepEqual(readdirSync(dir), []);
    await t.removeAll(); // idempotent
    await storage.close();
  });

  it("rejects nonsense Manager options with a ConfigError naming the option", () => {
    const storage = new MemoryStorage();
    for (const bad of [
      { ttlMs: 0 },
      { ttlMs: -5 },
      { ttlMs: 1.5 },
      { ttlMs: Number.NaN },
      { maxLifetimeMs: 0 },
      { limits: { maxKeys: 0 } },
      { limits: { maxValueBytes: -1 } },
    ]) {
      assert.throws(
        () => new Manager({ storage, logger: silentLogger, ...bad }),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          const option = Object.keys(bad)[0] as string;
          assert.ok(err.option?.startsWith(option), `${err.option} names ${option}`);
          return true;
        },
        JSON.stringify(bad),
      );
    }
    void storage.close();
  });
});
