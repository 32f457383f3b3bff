// Storage budgets (issue 8, "unbounded by default"): memory storage by estimated heap, file
// storage by disk, files and the filesystem's free space. Library level; the server's side
// is in serverBudgets.test.ts.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, readdirSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { ConfigError } from "../../src/core/ConfigError.js";
import type { JsonValue } from "../../src/core/json.js";
import { resolveLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { defaultMemoryBudget } from "../../src/core/memory/defaultMemoryBudget.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { Manager } from "../../src/core/session/Manager.js";
import { BUDGETED, capabilityOf } from "../../src/core/storage/capabilities.js";
import type { ApplyMode, ApplyOptions, Op, Storage } from "../../src/core/storage/Storage.js";
import { FileStorage, type FileStorageOptions } from "../../src/file/FileStorage.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { createStorage, FILE_SETTINGS, MEMORY_SETTINGS } from "../../src/server/createStorage.js";
import { sleep } from "../../src/testing/timing.js";
import { tempDir } from "../support/coreFixtures.js";
import { SHAPES } from "../support/heapShapes.js";

const REPO = fileURLToPath(new URL("../..", import.meta.url));
const LONG = { ttlMs: 60_000 };
const MiB = 1024 * 1024;
const opts = (mode: ApplyMode, ttlMs = 60_000): ApplyOptions => ({
  ttlMs,
  limits: resolveLimits(),
  mode,
});
const set = (key: string, value: JsonValue): Op => ({ type: "set", key, value });
const text = (chars: number, seed = "") => seed.padEnd(chars, "x");

function isCode(code: SessionError["code"], ...texts: RegExp[]) {
  return (err: unknown) => {
    assert.ok(err instanceof SessionError, `expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    for (const t of texts) assert.match(err.message, t);
    return true;
  };
}

/** Creates sessions of one `value` until the storage refuses one; returns the ids it took. */
async function fillUntilRefused(
  storage: Storage,
  value: JsonValue,
  ttlMs = 60_000,
  max = 10_000,
): Promise<{ ids: string[]; refusal: unknown }> {
  const ids: string[] = [];
  for (let i = 0; i < max; i++) {
    const id = newSessionId();
    try {
      await storage.apply(id, { ops: [set("v", value)] }, opts("create", ttlMs));
    } catch (refusal) {
      assert.equal(await storage.read(id, LONG), undefined, "a refused create leaves nothing");
      return { ids, refusal };
    }
    ids.push(id);
  }
  throw new Error(`the storage took ${max} sessions without refusing one`);
}

describe("memory storage budget (maxTotalBytes)", () => {
  const MEMORY_FULL = [/maxTotalBytes=20000/, /SESSIOND_MEMORY_MAX_BYTES/];

  it("refuses a write beyond it, naming the budget and its setting, and keeps serving", async () => {
    const storage = new MemoryStorage({
      maxTotalBytes: 20_000,
      sweepIntervalMs: 60_000,
      settingNames: MEMORY_SETTINGS,
    });
    const { ids, refusal } = await fillUntilRefused(storage, text(1000));
    isCode("resource_exhausted", ...MEMORY_FULL)(refusal);
    assert.ok(ids.length >= 5, `only ${ids.length} sessions fitted in 20 000 bytes`);
    const { usedBytes } = storage.budget;
    assert.ok(usedBytes <= 20_000 && usedBytes > 20_000 - usedBytes / ids.length, `${usedBytes}`);
    assert.equal(storage.size, ids.length);

    // Reads go on; writes that do not grow a session go on.
    const id = ids[0] as string;
    assert.equal((await storage.read(id, LONG))?.data.v, text(1000));
    await storage.apply(id, { ops: [set("v", text(1000, "same size"))] }, opts("existing"));
    await storage.apply(id, { ops: [set("n", 1)] }, opts("existing")).catch(() => {});
    const shrink = await storage.apply(id, { ops: [set("v", "short")] }, opts("existing"));
    assert.ok(shrink, "a shrinking write is applied");
    assert.ok(storage.budget.usedBytes < usedBytes, "and gives bytes back");
    await storage.close();
  });

  it("refuses growth of an existing session as a whole: the session stays as it was", async () => {
    const storage = new MemoryStorage({
      maxTotalBytes: 20_000,
      sweepIntervalMs: 60_000,
      settingNames: MEMORY_SETTINGS,
    });
    const { ids } = await fillUntilRefused(storage, text(1000));
    const id = ids[0] as string;
    const before = await storage.read(id, LONG);
    const used = storage.budget.usedBytes;
    await assert.rejects(
      storage.apply(
        id,
        {
          ops: [
            set("v", "tiny"),
            set("a", text(900)),
            set("b", text(900)),
            { type: "remove", key: "c" },
          ],
        },
        opts("existing"),
      ),
      isCode("resource_exhausted", ...MEMORY_FULL),
    );
    const afterRefusal = await storage.read(id, LONG);
    assert.deepEqual(afterRefusal?.data, before?.data);
    assert.equal(afterRefusal?.version, before?.version);
    assert.equal(storage.budget.usedBytes, used);

    // Through a Manager: the commit fails, no id is issued, nothing is stored.
    const session = new Manager({ storage, logger: silentLogger }).session();
    session.set("x", text(5000));
    await assert.rejects(session.commit(), isCode("resource_exhausted", ...MEMORY_FULL));
    assert.equal(session.id, undefined);
    assert.equal(storage.size, ids.length);
    await storage.close();
  });

  it("gets the bytes back from destroy, removed keys and clear, exactly", async () => {
    const storage = new MemoryStorage({
      maxTotalBytes: 20_000,
      sweepIntervalMs: 60_000,
      settingNames: MEMORY_SETTINGS,
    });
    const empty = storage.budget.usedBytes;
    assert.equal(empty, 0);
    const { ids } = await fillUntilRefused(storage, text(1000));
    const full = storage.budget.usedBytes;
    await storage.destroy(ids[0] as string);
    const freedOne = full - storage.budget.usedBytes;
    assert.ok(freedOne > 1000, `destroy freed ${freedOne} bytes`);
    await storage.apply(newSessionId(), { ops: [set("v", text(1000))] }, opts("create"));
    assert.equal(storage.budget.usedBytes, full, "a session like it fits again, costing the same");

    const id = ids[1] as string;
    const base = storage.budget.usedBytes;
    await storage.apply(id, { ops: [{ type: "remove", key: "v" }] }, opts("existing"));
    const withoutKey = storage.budget.usedBytes;
    assert.ok(withoutKey < base - 1000);
    await storage.apply(id, { ops: [set("v", text(1000))] }, opts("existing"));
    assert.equal(storage.budget.usedBytes, base, "the same key back costs the same");
    await storage.apply(id, { ops: [{ type: "clear" }] }, opts("existing"));
    assert.equal(storage.budget.usedBytes, withoutKey, "clear leaves the empty session's cost");

    for (const other of ids.slice(1)) await storage.destroy(other);
    await storage.destroy(ids[0] as string); // already gone: idempotent, frees nothing twice
    assert.equal(storage.size, 1);
    assert.equal(storage.budget.usedBytes, freedOne, "what is left is the one session");
    await storage.close();
    assert.equal(storage.budget.usedBytes, 0);
  });

  it("gets the bytes of expired sessions back: at once when full, and from the sweep", async () => {
    const storage = new MemoryStorage({
      maxTotalBytes: 20_000,
      sweepIntervalMs: 60_000,
      settingNames: MEMORY_SETTINGS,
    });
    const { ids } = await fillUntilRefused(storage, text(1000), 50);
    await sleep(100); // every one has expired; no sweep tick has run
    const again = await fillUntilRefused(storage, text(1000));
    assert.equal(again.ids.length, ids.length, "expired sessions made room for as many");
    await storage.close();

    const swept = new MemoryStorage({ maxTotalBytes: 20_000, sweepIntervalMs: 20 });
    await fillUntilRefused(swept, text(1000), 50);
    const deadline = Date.now() + 5000;
    while (swept.budget.usedBytes > 0 && Date.now() < deadline) await sleep(20);
    assert.equal(swept.budget.usedBytes, 0, "the sweep gave every byte back");
    assert.equal(swept.size, 0);
    await swept.close();
  });

  it("charges about what the heap really holds, never much less (heap measured after GC)", () => {
    const probe = fileURLToPath(new URL("../support/heapCostProbe.ts", import.meta.url));
    for (const shape of Object.keys(SHAPES)) {
      const child = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", probe, shape], {
        encoding: "utf8",
        cwd: REPO,
      });
      assert.equal(child.status, 0, child.stderr);
      const { heapBytes, chargedBytes } = JSON.parse(child.stdout) as Record<string, number>;
      const ratio = (chargedBytes as number) / (heapBytes as number);
      assert.ok(ratio >= 0.9, `${shape}: charged ${chargedBytes} B a session, heap ${heapBytes} B`);
      if (shape === "5 short strings" || shape === "one tiny key") {
        assert.ok(ratio <= 3, `${shape}: charged ${chargedBytes} B a session, heap ${heapBytes} B`);
      }
    }
  });

  it("defaults to half the old generation's limit; Infinity lifts it; nonsense is refused", async () => {
    // 4144 MiB of heap with the 3 x 16 MiB young generation of V8's defaults.
    assert.equal(defaultMemoryBudget(4144 * MiB, []), 2048 * MiB);
    // npm start's --max-semi-space-size=64 under --max-old-space-size=256: 448 MiB of heap.
    assert.equal(defaultMemoryBudget(448 * MiB, ["--max-semi-space-size=64"]), 128 * MiB);
    assert.equal(defaultMemoryBudget(448 * MiB, ["--max-semi-space-size", "64"]), 128 * MiB);
    const storage = new MemoryStorage();
    assert.equal(storage.budget.maxTotalBytes, defaultMemoryBudget());
    await storage.close();
    const unlimited = new MemoryStorage({ maxTotalBytes: Number.POSITIVE_INFINITY });
    assert.equal(unlimited.budget.maxTotalBytes, Number.POSITIVE_INFINITY);
    await unlimited.close();
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(
        () => new MemoryStorage({ maxTotalBytes: bad }),
        { name: "ConfigError", option: "maxTotalBytes" },
        String(bad),
      );
    }
  });
});

const dirs: Array<() => void> = [];
after(() => {
  for (const cleanup of dirs) cleanup();
});

function freshDir(): string {
  const parent = tempDir("budget");
  dirs.push(parent.cleanup);
  return join(parent.path, "store");
}

/** A FileStorage whose first count is done (writes wait for it anyway). */
async function openFile(
  dir: string,
  options: Partial<FileStorageOptions> = {},
): Promise<FileStorage> {
  const storage = new FileStorage({
    dir,
    logger: silentLogger,
    fsync: false,
    settingNames: FILE_SETTINGS,
    ids: "raw", // the tests find `<id>.session` by id
    ...options,
  });
  await storage.counted();
  return storage;
}

/** The disk a file takes, counted the way the budget counts it: in whole blocks. */
function blocks(path: string): number {
  const block = statfsSync(path).bsize;
  return Math.max(1, Math.ceil(statSync(path).size / block)) * block;
}

/** What the directory's session files take. */
function onDisk(dir: string): { files: number; bytes: number } {
  let files = 0;
  let bytes = 0;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith(".session")) continue;
    files++;
    bytes += blocks(join(dir, name));
  }
  return { files, bytes };
}

describe("file storage budgets (maxTotalBytes, maxFiles, minFreeBytes)", () => {
  it("refuses a file beyond maxTotalBytes (disk blocks), naming it and its setting", async () => {
    const dir = freshDir();
    mkdirSync(dir, { recursive: true });
    const block = statfsSync(dir).bsize;
    const storage = await openFile(dir, { maxTotalBytes: 5 * block });
    const { ids, refusal } = await fillUntilRefused(storage, "small");
    isCode(
      "resource_exhausted",
      new RegExp(`maxTotalBytes=${5 * block}\\b`),
      /SESSIOND_FILE_MAX_BYTES/,
    )(refusal);
    assert.equal(ids.length, 5, "one block a small session");
    assert.deepEqual(onDisk(dir), { files: 5, bytes: 5 * block });
    assert.equal(readdirSync(dir).length, 5, "no temp file left by the refused write");
    assert.deepEqual(
      { files: storage.budget.files, bytes: storage.budget.bytes },
      { files: 5, bytes: 5 * block },
    );

    // Rewrites that stay within their blocks go on; growing one by a block is refused and
    // leaves the file as it was.
    const id = ids[0] as string;
    await storage.apply(id, { ops: [set("v", "other"), set("w", 1)] }, opts("existing"));
    await assert.rejects(
      storage.apply(id, { ops: [set("big", text(2 * block))] }, opts("existing")),
      isCode("resource_exhausted", /SESSIOND_FILE_MAX_BYTES/),
    );
    assert.deepEqual((await storage.read(id, LONG))?.data, { v: "other", w: 1 });
    await storage.close();
  });

  it("refuses a file beyond maxFiles, naming it and its setting", async () => {
    const storage = await openFile(freshDir(), { maxFiles: 3 });
    const { ids, refusal } = await fillUntilRefused(storage, "small");
    isCode("resource_exhausted", /maxFiles=3\b/, /SESSIOND_FILE_MAX_FILES/)(refusal);
    assert.equal(ids.length, 3);
    const session = new Manager({ storage, logger: silentLogger }).session();
    session.set("a", 1);
    await assert.rejects(session.commit(), isCode("resource_exhausted", /maxFiles=3/));
    assert.equal(session.id, undefined);
    // Existing sessions still take writes.
    await storage.apply(ids[1] as string, { ops: [set("v", "changed")] }, opts("existing"));
    await storage.close();
  });

  it("gets files and bytes back from destroy and from expiry (read or sweep)", async () => {
    const dir = freshDir();
    const storage = await openFile(dir, { maxFiles: 4, sweepIntervalMs: 60_000 });
    const { ids } = await fillUntilRefused(storage, "small");
    await storage.destroy(ids[0] as string);
    assert.equal(storage.budget.files, 3);
    await storage.destroy(ids[0] as string); // idempotent: nothing freed twice
    assert.equal(storage.budget.files, 3);
    await storage.apply(newSessionId(), { ops: [set("v", 1)] }, opts("create"));
    for (const id of ids.slice(1)) await storage.destroy(id);
    assert.equal(storage.budget.files, 1);

    const short = await fillUntilRefused(storage, "small", 50);
    assert.equal(short.ids.length, 3);
    await sleep(100);
    assert.equal(await storage.read(short.ids[0] as string, LONG), undefined);
    assert.equal(storage.budget.files, 3, "reading an expired session deleted it");
    assert.equal(await storage.sweep(), 2);
    assert.equal(storage.budget.files, 1);
    assert.deepEqual(onDisk(dir), { files: 1, bytes: storage.budget.bytes });
    await storage.close();
  });

  it("recounts the directory at start: a restart on the same directory sees what is there", async () => {
    const dir = freshDir();
    const first = await openFile(dir);
    for (let i = 0; i < 7; i++) {
      await first.apply(newSessionId(), { ops: [set("v", text(3000 * i))] }, opts("create"));
    }
    const written = { files: first.budget.files, bytes: first.budget.bytes };
    assert.deepEqual(written, onDisk(dir));
    await first.close();

    const again = await openFile(dir, { maxFiles: 7 });
    assert.deepEqual({ files: again.budget.files, bytes: again.budget.bytes }, written);
    await assert.rejects(
      again.apply(newSessionId(), { ops: [set("v", 1)] }, opts("create")),
      isCode("resource_exhausted", /maxFiles=7/),
    );
    // A file put there behind its back is counted by the next sweep.
    const name = readdirSync(dir).find((n) => n.endsWith(".session")) as string;
    copyFileSync(join(dir, name), join(dir, `${newSessionId()}.session`));
    await again.sweep();
    assert.deepEqual({ files: again.budget.files, bytes: again.budget.bytes }, onDisk(dir));
    await again.close();
  });

  it("counts right while sessions are written and deleted during the count", async () => {
    const dir = freshDir();
    const seed = await openFile(dir);
    const ids = Array.from({ length: 1500 }, () => newSessionId());
    await Promise.all(
      ids.map((id, i) => seed.apply(id, { ops: [set("v", text(i * 7))] }, opts("create"))),
    );
    await seed.close();
    /** The count may be off by deleted files only, and only upwards (see DiskUsage). */
    const assertCount = (storage: FileStorage, deleted: string[], deletedBytes: number) => {
      const disk = onDisk(dir);
      const { files, bytes } = storage.budget;
      assert.ok(
        files >= disk.files && files <= disk.files + deleted.length,
        `counted ${files} files, ${disk.files} on disk, ${deleted.length} deleted`,
      );
      assert.ok(
        bytes >= disk.bytes && bytes <= disk.bytes + deletedBytes,
        `counted ${bytes} bytes, ${disk.bytes} on disk, ${deletedBytes} deleted`,
      );
    };
    const bytesOf = (some: string[]) =>
      some.reduce((sum, id) => sum + blocks(join(dir, `${id}.session`)), 0);

    // Deletes, rewrites and creates during the start-up count (nothing waits for it).
    const storage = new FileStorage({ dir, logger: silentLogger, fsync: false, ids: "raw" });
    const gone = ids.filter((_, i) => i % 3 === 0);
    const goneBytes = bytesOf(gone);
    const grown = ids.filter((_, i) => i % 3 === 2).slice(200);
    await Promise.all([
      storage.counted(),
      ...gone.map((id) => storage.destroy(id)),
      ...grown.map((id) => storage.apply(id, { ops: [set("w", text(6000))] }, opts("existing"))),
      ...grown.map(() => storage.apply(newSessionId(), { ops: [set("v", 2)] }, opts("create"))),
    ]);
    assertCount(storage, gone, goneBytes);

    // The same during a sweep's recount.
    const churn = ids.filter((_, i) => i % 3 === 1);
    const deleted = ids.filter((_, i) => i % 3 === 2).slice(0, 200);
    const deletedBytes = bytesOf(deleted);
    await Promise.all([
      storage.sweep(),
      ...churn.map((id) => storage.apply(id, { ops: [set("w", text(5000))] }, opts("existing"))),
      ...churn.map(() => storage.apply(newSessionId(), { ops: [set("v", 1)] }, opts("create"))),
      ...deleted.map((id) => storage.destroy(id)),
    ]);
    assertCount(storage, deleted, deletedBytes);
    // A quiet recount is exact.
    await storage.sweep();
    assert.deepEqual({ files: storage.budget.files, bytes: storage.budget.bytes }, onDisk(dir));
    await storage.close();
  });

  it("refuses to grow the filesystem's use below minFreeBytes, naming it and its setting", async () => {
    const dir = freshDir();
    const plain = await openFile(dir);
    const id = newSessionId();
    await plain.apply(id, { ops: [set("v", "before")] }, opts("create"));
    await plain.close();
    const floor = Number.MAX_SAFE_INTEGER; // more than any disk has free
    const storage = await openFile(dir, { minFreeBytes: floor });
    await assert.rejects(
      storage.apply(newSessionId(), { ops: [set("v", 1)] }, opts("create")),
      isCode("resource_exhausted", /nearly full/, /minFreeBytes=/, /SESSIOND_FILE_MIN_FREE_BYTES/),
    );
    // A rewrite that takes no more blocks still goes through.
    await storage.apply(id, { ops: [set("v", "after")] }, opts("existing"));
    assert.equal((await storage.read(id, LONG))?.data.v, "after");
    await storage.close();
  });

  it("refuses nonsense budgets with a ConfigError naming the option", () => {
    for (const bad of [
      { maxFiles: 0 },
      { maxFiles: 1.5 },
      { maxTotalBytes: -1 },
      { minFreeBytes: -1 },
    ]) {
      assert.throws(
        () => new FileStorage({ dir: freshDir(), logger: silentLogger, ...bad }),
        { name: "ConfigError", option: Object.keys(bad)[0] },
        JSON.stringify(bad),
      );
    }
  });
});

/**
 * Runs test/support/fullDiskProbe.ts on a tmpfs of `size` with `inodes` inodes, mounted in
 * a mount namespace of its own (unshare): a real, small filesystem that really fills up,
 * gone when the child exits.
 */
function onTinyFilesystem(size: string, inodes: number, options: Record<string, number | null>) {
  const parent = tempDir("tinyfs");
  dirs.push(parent.cleanup);
  const script = `mount -t tmpfs -o size=${size},nr_inodes=${inodes} tmpfs "$1" && exec "$2" --import tsx test/support/fullDiskProbe.ts "$1/store" "$3"`;
  const child = spawnSync(
    "unshare",
    ["-Urm", "sh", "-c", script, "sh", parent.path, process.execPath, JSON.stringify(options)],
    { encoding: "utf8", cwd: REPO },
  );
  assert.equal(child.status, 0, `${child.error ?? ""}${child.stderr}`);
  return JSON.parse(child.stdout.trim().split("\n").at(-1) as string) as {
    accepted: number;
    refused?: { code: string; message: string };
    grow?: { code: string; message: string };
    intact: boolean;
    leftovers: string[];
    afterDestroy: string;
  };
}

describe("file storage on a filesystem that fills up", () => {
  it("answers ENOSPC with resource_exhausted, leaving the old file intact", () => {
    const out = onTinyFilesystem("1m", 1000, { maxTotalBytes: null, minFreeBytes: 0 });
    assert.ok(out.accepted >= 10, `${out.accepted} sessions of 60 KB fitted in 1 MiB`);
    assert.equal(out.refused?.code, "resource_exhausted", JSON.stringify(out));
    assert.match(out.refused?.message ?? "", /no space left on device \(ENOSPC\)/);
    assert.equal(out.grow?.code, "resource_exhausted", JSON.stringify(out));
    assert.equal(out.intact, true, "the session whose rewrite failed reads as before");
    assert.deepEqual(out.leftovers, [], "no temp file left behind");
    assert.equal(out.afterDestroy, "ok", "deleting sessions made room again");
  });

  it("answers running out of inodes with resource_exhausted too", () => {
    const out = onTinyFilesystem("4m", 12, { maxTotalBytes: null, minFreeBytes: 0 });
    assert.equal(out.refused?.code, "resource_exhausted", JSON.stringify(out));
    assert.match(out.refused?.message ?? "", /ENOSPC/);
    assert.deepEqual(out.leftovers, []);
    assert.equal(out.afterDestroy, "ok");
  });

  it("with its defaults, stops before the filesystem is full (the free-space floor)", () => {
    const out = onTinyFilesystem("1m", 1000, { maxTotalBytes: null });
    assert.equal(out.refused?.code, "resource_exhausted");
    assert.match(out.refused?.message ?? "", /nearly full.*SESSIOND_FILE_MIN_FREE_BYTES/);
    assert.equal(out.intact, true);
    assert.equal(out.afterDestroy, "ok");
    const inodes = onTinyFilesystem("4m", 40, { maxTotalBytes: null });
    assert.match(inodes.refused?.message ?? "", /nearly out of inodes/);
    const bytes = onTinyFilesystem("4m", 1000, {});
    assert.match(bytes.refused?.message ?? "", /maxTotalBytes=2097152 .*SESSIOND_FILE_MAX_BYTES/);
  });
});

describe("budget settings of the server", () => {
  it("parses sizes, auto, unlimited and 0, and hands them to the storage", async () => {
    const parse = (...argv: string[]) => parseConfig(argv, {}).config;
    const defaults = parse();
    assert.equal(defaults.memoryMaxBytes, "auto");
    assert.equal(defaults.fileMaxBytes, "auto");
    assert.equal(defaults.fileMaxFiles, 1_000_000);
    assert.equal(defaults.fileMinFreeBytes, "auto");
    // The memory budget is the memory storage's: given with another storage it is refused.
    const memory = (...argv: string[]) => parse("--storage", "memory", ...argv);
    assert.equal(memory("--memory-max-bytes", "64MiB").memoryMaxBytes, 64 * MiB);
    assert.equal(memory("--memory-max-bytes=1.5GB").memoryMaxBytes, 1.5e9);
    assert.equal(parse("--file-max-bytes", "2097152").fileMaxBytes, 2 * MiB);
    for (const lift of ["unlimited", "0", "UNLIMITED"]) {
      assert.equal(memory("--memory-max-bytes", lift).memoryMaxBytes, Number.POSITIVE_INFINITY);
      assert.equal(parse("--file-max-files", lift).fileMaxFiles, Number.POSITIVE_INFINITY);
    }
    assert.equal(parse("--file-min-free-bytes", "0").fileMinFreeBytes, 0);
    const env = parseConfig([], { SESSIOND_FILE_MAX_FILES: "10" }).config;
    assert.equal(env.fileMaxFiles, 10);
    for (const [flag, bad] of [
      ["--memory-max-bytes", "lots"],
      ["--memory-max-bytes", "-1"],
      ["--file-max-bytes", "2XB"],
      ["--file-max-files", "1.5"],
      ["--file-min-free-bytes", "unlimited"],
    ] as const) {
      assert.throws(
        () => parse(flag, bad),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.message.includes(flag) &&
          err.message.includes("SESSIOND_") &&
          /auto/.test(err.message),
        `${flag} ${bad}`,
      );
    }

    const memoryStorage = await createStorage(
      { ...parse("--storage", "memory", "--memory-max-bytes", "3MiB") },
      silentLogger,
    );
    // The memory storage is not behind hashed ids: it keeps nothing at rest.
    assert.equal(capabilityOf(memoryStorage, BUDGETED)?.usage()?.maxBytes, 3 * MiB);
    await memoryStorage.close();
    const file = await createStorage(
      parse(
        "--file-dir",
        freshDir(),
        "--file-max-files",
        "5",
        "--file-max-bytes",
        "1MiB",
        "--file-min-free-bytes",
        "0",
      ),
      silentLogger,
    );
    // The file storage is behind hashed ids; its budget is found through them.
    const usage = capabilityOf(file, BUDGETED)?.usage();
    assert.deepEqual(
      {
        maxFiles: usage?.maxFiles,
        maxTotalBytes: usage?.maxBytes,
        minFreeBytes: usage?.minFreeBytes,
      },
      { maxFiles: 5, maxTotalBytes: MiB, minFreeBytes: 0 },
    );
    await file.close();
  });
});

describe("regenerate keeps the budgets' counts true", () => {
  it("memory: a move costs what the session did, a copy (keepOld) is charged and refused beyond the budget", async () => {
    const probe = new MemoryStorage();
    const id = newSessionId();
    await probe.apply(id, { ops: [set("v", text(2000))] }, opts("create"));
    const one = probe.budget.usedBytes;
    await probe.close();

    const storage = new MemoryStorage({
      maxTotalBytes: Math.floor(one * 1.5),
      settingNames: MEMORY_SETTINGS,
    });
    const m = new Manager({ storage, logger: silentLogger });
    const s = m.session();
    s.set("v", text(2000));
    await s.commit();
    assert.equal(storage.budget.usedBytes, one);
    await s.regenerate();
    assert.equal(storage.budget.usedBytes, one, "a move neither adds nor loses bytes");
    await assert.rejects(
      s.regenerate({ keepOld: true }),
      isCode("resource_exhausted", /SESSIOND_MEMORY_MAX_BYTES/),
    );
    assert.equal(storage.budget.usedBytes, one, "a refused copy changes nothing");
    assert.equal(storage.size, 1);
    assert.equal(await m.session(s.id).get("v"), text(2000), "the session is still there");
    await m.session(s.id).removeAll();
    assert.equal(storage.budget.usedBytes, 0);
    await storage.close();
  });

  it("file: a move keeps the file count and bytes, a copy adds one file", async () => {
    const dir = freshDir();
    const storage = await openFile(dir);
    const m = new Manager({ storage, logger: silentLogger });
    const s = m.session();
    s.set("v", text(3000));
    await s.commit();
    const before = storage.budget;
    await s.regenerate();
    assert.deepEqual(
      { files: storage.budget.files, bytes: storage.budget.bytes },
      { files: before.files, bytes: before.bytes },
    );
    await s.regenerate({ keepOld: true });
    assert.equal(storage.budget.files, before.files + 1);
    assert.deepEqual(onDisk(dir), { files: storage.budget.files, bytes: storage.budget.bytes });
    await storage.close();
  });
});
