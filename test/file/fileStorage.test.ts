import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  lchownSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { resolveLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { Manager } from "../../src/core/session/Manager.js";
import type { ApplyMode, ApplyOptions, Op } from "../../src/core/storage/Storage.js";
import { FileStorage, type FileStorageOptions } from "../../src/file/FileStorage.js";
import { fileIdHashKey } from "../../src/file/idHashKeyFile.js";
import { sleep } from "../../src/testing/timing.js";
import { capturingLogger, listTree, tempDir } from "../support/coreFixtures.js";

const LONG = { ttlMs: 60_000 };
const opts = (mode: ApplyMode, ttlMs = 60_000): ApplyOptions => ({
  ttlMs,
  limits: resolveLimits(),
  mode,
});
const set = (key: string, value: string | number): Op => ({ type: "set", key, value });

const dirs: Array<() => void> = [];
after(() => {
  for (const cleanup of dirs) cleanup();
});

/**
 * A FileStorage in a fresh directory (`<tmp>/sessiond-file-XXX/store`), closed by the test.
 * Raw ids, so that a test finds a session's file by its id: these tests are about the
 * files; test/file/fileIdNames.test.ts checks the default, hashed names.
 */
function fresh(options: Partial<FileStorageOptions> = {}) {
  const parent = tempDir("file");
  dirs.push(parent.cleanup);
  const dir = join(parent.path, "store");
  const logger = capturingLogger();
  const storage = new FileStorage({ dir, logger, ids: "raw", ...options });
  return { storage, dir, parent: parent.path, logger };
}

function isCode(code: SessionError["code"], text?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SessionError, `expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (text) assert.match(err.message, text);
    return true;
  };
}

const sessionFile = (dir: string, id: string) => join(dir, `${id}.session`);

/** Sets a file's mtime (= its session's expiry) one hour ahead, as a live session has. */
function keepAlive(path: string): void {
  const later = Date.now() / 1000 + 3600;
  utimesSync(path, later, later);
}

describe("FileStorage", () => {
  it("keeps data across a restart: a new FileStorage and Manager on the same dir", async () => {
    const { storage, dir } = fresh();
    const m1 = new Manager({ storage, logger: silentLogger });
    const s = m1.session();
    s.setMap({ user: "ann", cart: [1, 2, { sku: "x" }] });
    s.increment("visits", 3);
    await s.commit();
    await storage.close();

    const reopened = new FileStorage({ dir, logger: silentLogger, ids: "raw" });
    const m2 = new Manager({ storage: reopened, logger: silentLogger });
    const again = m2.session(s.id);
    assert.deepEqual(await again.data(), { user: "ann", cart: [1, 2, { sku: "x" }], visits: 3 });
    assert.equal((await again.describe()).version, 1);
    again.increment("visits");
    await again.commit();
    assert.equal(again.id, s.id);
    assert.equal(await m2.session(s.id).get("visits"), 4);
    await reopened.close();
  });

  it("creates the directory 0700 and session files 0600, whatever the umask", async () => {
    const old = process.umask(0);
    try {
      const { storage, dir } = fresh();
      assert.equal(existsSync(dir), false, "the constructor does no I/O");
      await storage.open();
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      const id = newSessionId();
      await storage.apply(id, { ops: [set("a", 1)] }, opts("create"));
      assert.equal(statSync(sessionFile(dir, id)).mode & 0o777, 0o600);
      await storage.apply(id, { ops: [set("a", 2)] }, opts("existing"));
      assert.equal(statSync(sessionFile(dir, id)).mode & 0o777, 0o600, "after a replace too");
      assert.deepEqual(readdirSync(dir), [`${id}.session`], "no temp files left behind");
      await storage.close();
    } finally {
      process.umask(old);
    }
  });

  it("tightens an existing directory of its own to 0700", async () => {
    const parent = tempDir("file-perm");
    dirs.push(parent.cleanup);
    const dir = join(parent.path, "open");
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const logger = capturingLogger();
    const storage = new FileStorage({ dir, logger });
    await storage.open();
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.ok(logger.lines.some((l) => l.level === "info" && /0700/.test(l.msg)));
    await storage.close();
  });

  it("refuses a directory that another user owns and others can reach", async () => {
    const parent = tempDir("file-owner");
    dirs.push(parent.cleanup);
    const dir = join(parent.path, "planted");
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    // Making a directory belong to someone else takes root (the CI runs as root).
    assert.equal(process.getuid?.(), 0, "this test needs root to chown a directory");
    chownSync(dir, 12345, 12345);
    const storage = new FileStorage({ dir, logger: silentLogger });
    await assert.rejects(storage.open(), isCode("unavailable", /is owned by uid 12345/));
    await storage.close();
  });

  it("refuses a directory another user owns even when it is 0700, and never reads its key", async () => {
    const parent = tempDir("file-owner-0700");
    dirs.push(parent.cleanup);
    const dir = join(parent.path, "sessiond");
    mkdirSync(dir, { mode: 0o700 });
    // What the other user planted: their own key, and a session file of their choosing.
    writeFileSync(join(dir, ".id-hash-key"), `${"ab".repeat(32)}\n`, { mode: 0o600 });
    chownSync(join(dir, ".id-hash-key"), 65534, 65534);
    chownSync(dir, 65534, 65534);
    const before = listTree(dir);
    const storage = new FileStorage({ dir, logger: silentLogger });
    await assert.rejects(
      storage.open(),
      isCode(
        "unavailable",
        new RegExp(
          `^file storage directory ${dir} is owned by uid 65534, not by the user sessiond runs as \\(uid 0\\), .*: chown 0 ${dir} `,
        ),
      ),
    );
    await storage.close();
    assert.deepEqual(listTree(dir), before, "nothing created in it");
    assert.throws(() => fileIdHashKey(dir), /is owned by uid 65534/);
  });

  for (const mode of [0o777, 0o770, 0o702]) {
    it(`refuses a directory of its own that group or others may write (${mode.toString(8)})`, async () => {
      const parent = tempDir("file-writable");
      dirs.push(parent.cleanup);
      const dir = join(parent.path, "store");
      mkdirSync(dir);
      chmodSync(dir, mode);
      const storage = new FileStorage({ dir, logger: silentLogger });
      await assert.rejects(
        storage.open(),
        isCode("unavailable", new RegExp(`is writable by .*: chmod 700 ${dir}$`)),
      );
      await storage.close();
      assert.equal(statSync(dir).mode & 0o777, mode, "left as it was for the operator to look at");
    });
  }

  it("refuses a directory whose parent others may write (no sticky bit), or a link another user owns", async () => {
    const parent = tempDir("file-parent");
    dirs.push(parent.cleanup);
    const open = join(parent.path, "open");
    mkdirSync(join(open, "store"), { recursive: true, mode: 0o700 });
    chmodSync(open, 0o777);
    const storage = new FileStorage({ dir: join(open, "store"), logger: silentLogger });
    await assert.rejects(
      storage.open(),
      isCode(
        "unavailable",
        new RegExp(`the parent of file storage directory .*: chmod go-w ${open}$`),
      ),
    );
    await storage.close();
    // Sticky, as /tmp is: others cannot rename what is not theirs.
    chmodSync(open, 0o1777);
    const sticky = new FileStorage({ dir: join(open, "store"), logger: silentLogger });
    await sticky.open();
    await sticky.close();

    const mine = join(parent.path, "mine");
    mkdirSync(mine, { mode: 0o700 });
    const link = join(parent.path, "link");
    symlinkSync(mine, link);
    lchownSync(link, 65534, 65534);
    const linked = new FileStorage({ dir: link, logger: silentLogger });
    await assert.rejects(
      linked.open(),
      isCode("unavailable", /is a symbolic link that is owned by uid 65534/),
    );
    await linked.close();
  });

  it("refuses an id-hash key file another user owns or may write", () => {
    const parent = tempDir("file-key");
    dirs.push(parent.cleanup);
    const key = join(parent.path, ".id-hash-key");
    writeFileSync(key, `${"cd".repeat(32)}\n`);
    chmodSync(key, 0o666);
    assert.throws(
      () => fileIdHashKey(parent.path),
      (err: Error) =>
        new RegExp(`is writable by group and others \\(mode 0666\\).*: chmod 600 ${key}$`).test(
          err.message,
        ),
    );
    chmodSync(key, 0o600);
    assert.equal(fileIdHashKey(parent.path).toString("hex"), "cd".repeat(32));
    chownSync(key, 65534, 65534);
    assert.throws(() => fileIdHashKey(parent.path), /is owned by uid 65534/);
    // Root may own a key file (an orchestrator's mount); we are root here, so that is us.
    chownSync(key, 0, 0);
    assert.equal(fileIdHashKey(parent.path).toString("hex"), "cd".repeat(32));
  });

  it("treats a corrupt, truncated or empty file as missing, warns first, then moves it aside", async () => {
    const { storage, dir, logger } = fresh();
    const m = new Manager({ storage, logger: silentLogger });
    const cases: Array<[string, (path: string) => void]> = [
      ["garbage", (p) => writeFileSync(p, "this is not json {")],
      ["truncated", (p) => truncateSync(p, Math.floor(statSync(p).size / 2))],
      ["empty", (p) => truncateSync(p, 0)],
      ["wrong shape", (p) => writeFileSync(p, JSON.stringify({ format: "other", data: 1 }))],
    ];
    for (const [name, damage] of cases) {
      const s = m.session();
      s.set("secret", name);
      await s.commit();
      const id = s.id as string;
      const path = sessionFile(dir, id);
      damage(path);
      const damaged = readFileSync(path);
      keepAlive(path);
      const warnings = logger.lines.length;

      const reader = m.session(id);
      assert.deepEqual(await reader.data(), {}, `${name}: reads as missing`);
      const warned = logger.lines.slice(warnings);
      assert.equal(warned.length, 1, `${name}: exactly one warning`);
      assert.equal(warned[0]?.level, "warn");
      assert.doesNotMatch(JSON.stringify(warned[0]), new RegExp(id), "the id is not logged whole");
      assert.equal(existsSync(path), false, `${name}: moved away from the session path`);
      const aside = readdirSync(dir).filter((f) => f.startsWith(id) && f.endsWith(".corrupt"));
      assert.equal(aside.length, 1, `${name}: kept as <id>.<ms>.corrupt`);
      assert.deepEqual(
        readFileSync(join(dir, aside[0] as string)),
        damaged,
        "content kept as found",
      );

      // The caller's next write gets a fresh session; the damaged file is left alone.
      reader.set("again", 1);
      await reader.commit();
      assert.notEqual(reader.id, id);
      assert.deepEqual(readFileSync(join(dir, aside[0] as string)), damaged);
    }
    await storage.close();
  });

  it("counts files set aside as corrupt in the disk budget, in bytes", async () => {
    const { storage, dir } = fresh({ sweepIntervalMs: 3_600_000, fsync: false });
    await storage.counted();
    const block = statfsSync(dir).bsize;
    const blocksOf = (path: string) => Math.max(1, Math.ceil(statSync(path).size / block)) * block;
    const id = newSessionId();
    await storage.apply(id, { ops: [set("a", "v".repeat(2 * block))] }, opts("create"));
    // Damaged in place, at the size the budget knows it by.
    writeFileSync(sessionFile(dir, id), "x".repeat(statSync(sessionFile(dir, id)).size));
    keepAlive(sessionFile(dir, id));
    assert.equal(await storage.read(id, LONG), undefined, "read as missing, set aside");
    const aside = readdirSync(dir).filter((f) => f.endsWith(".corrupt"));
    assert.equal(aside.length, 1);
    const asideBytes = blocksOf(join(dir, aside[0] as string));
    assert.deepEqual(
      { files: storage.budget.files, bytes: storage.budget.bytes },
      { files: 0, bytes: asideBytes },
      "its bytes still count, as no session",
    );
    // One put there behind the storage's back is found by the next count.
    writeFileSync(join(dir, `${newSessionId()}.1.corrupt`), "y".repeat(block + 1));
    assert.equal(await storage.sweep(), 0);
    assert.equal(readdirSync(dir).filter((f) => f.endsWith(".corrupt")).length, 2, "kept for now");
    assert.equal(storage.budget.bytes, asideBytes + 2 * block);
    await storage.close();

    // Within a budget they fill, a write that adds is refused.
    const tight = new FileStorage({
      dir,
      logger: silentLogger,
      maxTotalBytes: asideBytes + 2 * block,
    });
    await tight.counted();
    await assert.rejects(
      tight.apply(newSessionId(), { ops: [set("a", 1)] }, opts("create")),
      isCode("resource_exhausted", /maxTotalBytes/),
    );
    await tight.close();
  });

  it("sweeps files set aside as corrupt once kept corruptRetentionMs (by ctime, whatever their mtime)", async () => {
    const { storage, dir } = fresh({ sweepIntervalMs: 3_600_000, fsync: false });
    const id = newSessionId();
    await storage.apply(id, { ops: [set("a", 1)] }, opts("create"));
    writeFileSync(sessionFile(dir, id), "not json");
    keepAlive(sessionFile(dir, id));
    assert.equal(await storage.read(id, LONG), undefined);
    // One planted with a far-future mtime, as a session file of an attacker's would have.
    const planted = join(dir, `${newSessionId()}.1.corrupt`);
    writeFileSync(planted, "{}");
    utimesSync(planted, 4e9, 4e9);
    await storage.sweep();
    assert.equal(
      readdirSync(dir).filter((f) => f.endsWith(".corrupt")).length,
      2,
      "kept by default",
    );
    await storage.close();

    const sweeping = new FileStorage({ dir, logger: silentLogger, corruptRetentionMs: 0 });
    await sweeping.counted();
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith(".corrupt")),
      [],
    );
    assert.equal(sweeping.budget.bytes, 0);
    await sweeping.apply(newSessionId(), { ops: [set("a", 1)] }, opts("create"));
    await sweeping.close();
  });

  it("encrypts at rest: no plaintext on disk; a wrong key reads as missing with a warning", async () => {
    const key = Buffer.alloc(32, 42);
    const { storage, dir } = fresh({ encryptionKey: key });
    const id = newSessionId();
    const marker = "plaintext-marker-🔑-4242";
    await storage.apply(
      id,
      { ops: [set("credit_card_number", marker), set("n", 123456789)] },
      opts("create"),
    );
    const onDisk = readFileSync(sessionFile(dir, id));
    for (const needle of [marker, "credit_card_number", "123456789", "sessiond-file", '{"format']) {
      assert.equal(onDisk.includes(Buffer.from(needle)), false, `ciphertext holds "${needle}"`);
    }
    assert.deepEqual((await storage.read(id, LONG))?.data, {
      credit_card_number: marker,
      n: 123456789,
    });
    await storage.close();

    const wrongLog = capturingLogger();
    const wrong = new FileStorage({
      dir,
      logger: wrongLog,
      encryptionKey: Buffer.alloc(32, 43),
      ids: "raw",
    });
    assert.equal(await wrong.read(id, LONG), undefined);
    assert.equal(wrongLog.lines.filter((l) => l.level === "warn").length, 1);
    assert.match(String(wrongLog.lines[0]?.fields.reason), /authentication/);
    await wrong.close();
  });

  it("binds each encrypted file to its id: a file copied over another session fails", async () => {
    const key = Buffer.from(
      "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
      "hex",
    );
    const { storage, dir, logger } = fresh({ encryptionKey: key });
    const victim = newSessionId();
    const attacker = newSessionId();
    await storage.apply(victim, { ops: [set("role", "user")] }, opts("create"));
    await storage.apply(attacker, { ops: [set("role", "admin")] }, opts("create"));
    writeFileSync(sessionFile(dir, victim), readFileSync(sessionFile(dir, attacker)));
    keepAlive(sessionFile(dir, victim));
    assert.equal(await storage.read(victim, LONG), undefined);
    assert.equal(logger.lines.filter((l) => l.level === "warn").length, 1);
    await storage.close();
  });

  it("refuses plain files when a key is set, and sealed files when none is", async () => {
    const plain = fresh();
    const id = newSessionId();
    await plain.storage.apply(id, { ops: [set("a", 1)] }, opts("create"));
    await plain.storage.close();
    const keyed = new FileStorage({
      dir: plain.dir,
      logger: plain.logger,
      encryptionKey: Buffer.alloc(32, 1),
      ids: "raw",
    });
    assert.equal(await keyed.read(id, LONG), undefined, "a forged plain file is not trusted");
    assert.match(String(plain.logger.lines.at(-1)?.fields.reason), /not encrypted/);
    const other = newSessionId();
    await keyed.apply(other, { ops: [set("a", 1)] }, opts("create"));
    await keyed.close();
    const unkeyed = new FileStorage({ dir: plain.dir, logger: plain.logger, ids: "raw" });
    assert.equal(await unkeyed.read(other, LONG), undefined);
    assert.match(String(plain.logger.lines.at(-1)?.fields.reason), /no encryptionKey/);
    await unkeyed.close();
  });

  it("accepts a key as 32 bytes (Buffer or Uint8Array); refuses text and other lengths with a ConfigError", async () => {
    const raw = Buffer.from("abcdefghijklmnopqrstuvwxyz012345");
    const forms = [raw, new Uint8Array(raw)];
    const { dir } = fresh();
    const id = newSessionId();
    for (const [i, encryptionKey] of forms.entries()) {
      const storage = new FileStorage({ dir, logger: silentLogger, encryptionKey });
      if (i === 0) await storage.apply(id, { ops: [set("a", 1)] }, opts("create"));
      assert.deepEqual((await storage.read(id, LONG))?.data, { a: 1 }, `key form ${i}`);
      await storage.close();
    }
    for (const bad of [Buffer.alloc(16), Buffer.alloc(33), new Uint8Array(0)]) {
      assert.throws(() => new FileStorage({ dir, logger: silentLogger, encryptionKey: bad }), {
        name: "ConfigError",
        message: /^encryptionKey: must be 32 bytes, got \d+ bytes$/,
      });
    }
    // Text is decoded by the caller: one parser (the server's) decides what text is a key.
    const hex = raw.toString("hex") as unknown as Uint8Array;
    assert.throws(() => new FileStorage({ dir, logger: silentLogger, encryptionKey: hex }), {
      name: "ConfigError",
      message: /encryptionKey: must be a 32-byte Buffer \(decode text first/,
    });
  });

  it("slides expiry on reads by moving the mtime, without rewriting the file", async () => {
    const { storage, dir } = fresh();
    const id = newSessionId();
    const made = await storage.apply(id, { ops: [set("a", 1)] }, opts("create", 5_000));
    assert.ok(made);
    const path = sessionFile(dir, id);
    const before = statSync(path);
    const content = readFileSync(path);
    assert.equal(Math.round(before.mtimeMs), made.expireTime, "the mtime is the expiry");
    await sleep(300);
    const read = await storage.read(id, { ttlMs: 5_000 });
    const afterRead = statSync(path);
    assert.equal(afterRead.ino, before.ino, "same file: not replaced");
    assert.deepEqual(readFileSync(path), content, "same bytes");
    assert.ok(afterRead.mtimeMs > before.mtimeMs, "expiry moved forward");
    assert.equal(Math.round(afterRead.mtimeMs), read?.expireTime);
    await storage.close();
  });

  it("sweeps expired files on its interval without any read", async () => {
    const { storage, dir } = fresh({ sweepIntervalMs: 50 });
    for (let i = 0; i < 20; i++) {
      const made = await storage.apply(newSessionId(), { ops: [set("a", i)] }, opts("create", 100));
      assert.ok(made, "each short-lived session was written");
    }
    const live = newSessionId();
    await storage.apply(live, { ops: [set("a", 1)] }, opts("create", 60_000));
    const deadline = Date.now() + 5_000;
    while (readdirSync(dir).length > 1 && Date.now() < deadline) await sleep(50);
    assert.deepEqual(readdirSync(dir), [`${live}.session`]);
    await storage.close();
  });

  it("never shows a reader a partial file while writers replace it", async () => {
    const { storage } = fresh();
    const id = newSessionId();
    await storage.apply(id, { ops: [set("blob", "0".repeat(50_000))] }, opts("create"));
    const writes = Array.from({ length: 20 }, (_, i) =>
      storage.apply(id, { ops: [set("blob", String(i % 10).repeat(50_000))] }, opts("existing")),
    );
    const reads = Array.from({ length: 40 }, () => storage.read(id, LONG));
    const [, records] = await Promise.all([Promise.all(writes), Promise.all(reads)]);
    for (const record of records) {
      assert.ok(record, "never missing");
      const blob = record.data.blob as string;
      assert.equal(blob.length, 50_000);
      assert.equal(new Set(blob).size, 1, "one whole version");
    }
    await storage.close();
  });

  it("does not let two writers on one id (separate FileStorage objects) collide on create", async () => {
    const { storage, dir } = fresh();
    const second = new FileStorage({ dir, logger: silentLogger, ids: "raw" });
    const id = newSessionId();
    const results = await Promise.all([
      storage.apply(id, { ops: [set("who", "first")] }, opts("create")),
      second.apply(id, { ops: [set("who", "second")] }, opts("create")),
    ]);
    assert.equal(results.filter((r) => r !== undefined).length, 1, "exactly one create wins");
    await Promise.all([storage.close(), second.close()]);
  });

  it("maps filesystem failures to unavailable errors that name the directory", async () => {
    const parent = tempDir("file-errors");
    dirs.push(parent.cleanup);
    const blocker = join(parent.path, "a-file");
    writeFileSync(blocker, "x");
    const blocked = new FileStorage({ dir: join(blocker, "store"), logger: silentLogger });
    await assert.rejects(blocked.open(), isCode("unavailable", /not a directory \(ENOTDIR\)/));
    // Every operation opens first, and fails the same way.
    await assert.rejects(
      blocked.read(newSessionId(), LONG),
      isCode("unavailable", /not a directory \(ENOTDIR\)/),
    );
    await blocked.close();

    // The directory replaced by a file while running: reads and writes fail cleanly.
    const { storage, dir } = fresh();
    const id = newSessionId();
    await storage.apply(id, { ops: [set("a", 1)] }, opts("create"));
    rmSync(dir, { recursive: true });
    writeFileSync(dir, "not a directory any more");
    await assert.rejects(storage.read(id, LONG), (err: unknown) => {
      isCode("unavailable", new RegExp(dir))(err);
      const cause = (err as Error).cause as Error;
      assert.equal((cause as NodeJS.ErrnoException).code, "ENOTDIR");
      assert.ok(!JSON.stringify([cause.message, cause.stack]).includes(id), "no id in the cause");
      return true;
    });
    await assert.rejects(
      storage.apply(id, { ops: [set("a", 2)] }, opts("upsert")),
      isCode("unavailable", /ENOTDIR/),
    );
    await assert.rejects(storage.ping(), isCode("unavailable"));
    rmSync(dir);

    // A directory removed while running (tmp cleaners) is made again on the next write.
    const made = await storage.apply(id, { ops: [set("a", 3)] }, opts("upsert"));
    assert.equal(made?.version, 1);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    await storage.close();
  });

  it("reports permission denied (EACCES) as unavailable, naming the path", () => {
    const parent = tempDir("file-eacces");
    dirs.push(parent.cleanup);
    // root ignores permission bits, so the probe runs as "nobody" when we are root.
    const root = process.getuid?.() === 0;
    chmodSync(parent.path, root ? 0o700 : 0o500);
    const probe = fileURLToPath(new URL("../support/fileStorageProbe.ts", import.meta.url));
    const target = join(parent.path, "store");
    const child = spawnSync(process.execPath, ["--import", "tsx", probe, target], {
      encoding: "utf8",
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      ...(root ? { uid: 65534, gid: 65534 } : {}),
    });
    chmodSync(parent.path, 0o700);
    assert.equal(child.status, 0, child.stderr);
    const outcome = JSON.parse(child.stdout.trim().split("\n").at(-1) as string);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.isSessionError, true);
    assert.equal(outcome.code, "unavailable");
    assert.match(outcome.message, /permission denied \(EACCES\)/);
    assert.ok(outcome.message.includes(target), outcome.message);
  });

  it("answers a directory under /proc with an error instead of hanging", () => {
    // Node 20's recursive mkdir spins forever on /proc paths; run in a child with a timeout
    // so a regression fails here instead of hanging the suite.
    const probe = fileURLToPath(new URL("../support/fileStorageProbe.ts", import.meta.url));
    const child = spawnSync(process.execPath, ["--import", "tsx", probe, "/proc/nope/store"], {
      encoding: "utf8",
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
      timeout: 20_000,
    });
    assert.equal(child.signal, null, "the probe hung and was killed");
    assert.equal(child.status, 0, child.stderr);
    const outcome = JSON.parse(child.stdout.trim().split("\n").at(-1) as string);
    assert.equal(outcome.ok, false);
    assert.equal(outcome.code, "unavailable");
    assert.match(outcome.message, /\/proc\/nope\/store/);
  });

  it("refuses unsafe ids before building a path, creating nothing anywhere", async () => {
    const { storage, parent } = fresh();
    const before = listTree(parent);
    for (const id of [
      "../x",
      "../../etc/passwd",
      "a/b",
      "",
      "a\u0000b",
      ".",
      "..",
      "x".repeat(129),
    ]) {
      await assert.rejects(
        storage.apply(id, { ops: [set("a", 1)] }, opts("upsert")),
        isCode("invalid_argument"),
      );
      await assert.rejects(storage.destroy(id), isCode("invalid_argument"));
    }
    assert.deepEqual(listTree(parent), before);
    await storage.close();
  });

  it("fails with unavailable after close, and stops its sweeper", async () => {
    const { storage } = fresh({ sweepIntervalMs: 10 });
    await storage.close();
    await assert.rejects(storage.read(newSessionId(), LONG), isCode("unavailable", /closed/));
    await assert.rejects(storage.ping(), isCode("unavailable"));
    const m = new Manager({ storage, logger: silentLogger });
    const s = m.session();
    s.set("a", 1);
    await assert.rejects(s.commit(), isCode("unavailable"));
    assert.equal(s.isDirty, true, "changes stay queued after an unavailable storage");
  });

  it("needs a dir, and touches nothing until its first operation (or open)", async () => {
    assert.throws(() => new FileStorage({} as FileStorageOptions), {
      name: "ConfigError",
      option: "dir",
      message: /^dir: is required/,
    });
    const parent = tempDir("file-lazy");
    dirs.push(parent.cleanup);
    const dir = join(parent.path, "store");
    const storage = new FileStorage({ dir, logger: silentLogger });
    assert.equal(existsSync(dir), false, "no directory made by the constructor");
    const id = newSessionId();
    assert.equal(await storage.read(id, LONG), undefined, "the first read opens it");
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    // Hashed ids (the default): the key file is made with the directory, 0600, and only it.
    assert.deepEqual(readdirSync(dir), [".id-hash-key"], "the id-hash key, no session");
    assert.equal(statSync(join(dir, ".id-hash-key")).mode & 0o777, 0o600);
    await storage.open();
    await storage.open();
    assert.deepEqual(readdirSync(dir), [".id-hash-key"], "opening twice is one open");
    await storage.close();
  });
});
