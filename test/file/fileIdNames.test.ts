// What a FileStorage built with the defaults names its files: keyed hashes of the session
// ids, with the key in `<dir>/.id-hash-key` (the server's layout, so a server's directory
// and a library user's are the same thing); `ids: "raw"` keeps `<id>.session` for upgrades;
// `idHashKey` is used when given. Real files in a real temp directory.
import assert from "node:assert/strict";
import {
  existsSync,
  readdirSync,
  readFileSync,
  statSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { Manager } from "../../src/core/session/Manager.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { fileIdHashKey } from "../../src/file/idHashKeyFile.js";
import { capturingLogger, tempDir } from "../support/coreFixtures.js";

const cleanups: Array<() => void> = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

/** A directory that does not exist yet (the storage creates it). */
function freshDir(): string {
  const parent = tempDir("file-names");
  cleanups.push(parent.cleanup);
  return join(parent.path, "store");
}

/** Writes `text` over a session file, live for an hour (the mtime is its expiry). */
function corrupt(path: string, text: string): void {
  writeFileSync(path, text);
  const later = Date.now() / 1000 + 3600;
  utimesSync(path, later, later);
}

/** Creates a session through a Manager over `storage`; resolves to its id. */
async function created(storage: FileStorage, value = "v"): Promise<string> {
  const manager = new Manager({ storage });
  const session = manager.session();
  session.set("k", value);
  await session.commit();
  return session.id as string;
}

/** The name the server gave (and gives) session `id` in `dir`: HashedIdStorage under its key file. */
function serverName(dir: string, id: string): Promise<string> {
  return new HashedIdStorage(new MemoryStorage(), fileIdHashKey(dir)).storedId(id);
}

describe("FileStorage file names", () => {
  it("by default names no file after a session id, with the key in <dir>/.id-hash-key (0600)", async () => {
    const dir = freshDir();
    // No open() first: the first call prepares the directory and the key, no ENOENT.
    const storage = new FileStorage({ dir });
    const ids = [await created(storage), await created(storage), await created(storage)];
    await storage.close();
    const names = readdirSync(dir);
    assert.ok(names.includes(".id-hash-key"), names.join(", "));
    assert.equal(statSync(join(dir, ".id-hash-key")).mode & 0o777, 0o600);
    const sessions = names.filter((name) => name.endsWith(".session"));
    assert.equal(sessions.length, 3, names.join(", "));
    for (const id of ids) {
      for (const name of names) assert.ok(!name.includes(id), `${name} holds the id ${id}`);
      // The server's layout: the same name the server's HashedIdStorage over the key file gives.
      assert.ok(sessions.includes(`${await serverName(dir, id)}.session`), id);
    }
    // The ids are nowhere in the files either (their names and contents).
    for (const name of sessions) {
      const text = readFileSync(join(dir, name), "utf8");
      for (const id of ids) assert.ok(!text.includes(id), `${name} holds an id`);
    }
    // Another storage on the directory (a restart) reads them through the same key.
    const reopened = new FileStorage({ dir });
    const manager = new Manager({ storage: reopened });
    for (const id of ids) assert.deepEqual(await manager.session(id).data(), { k: "v" });
    await reopened.close();
  });

  it("open() before any call creates the key, and a call right after a failed open retries it", async () => {
    const dir = freshDir();
    const storage = new FileStorage({ dir });
    await storage.open();
    assert.deepEqual(readdirSync(dir), [".id-hash-key"]);
    const id = await created(storage);
    assert.equal(await storage.storedName(id), await serverName(dir, id));
    await storage.close();
  });

  it("keeps a key file the server made before: sessions it stored read back", async () => {
    const dir = freshDir();
    // A server's directory as the server made it (key file, then hashed names).
    const first = new FileStorage({ dir });
    await first.open();
    const key = readFileSync(join(dir, ".id-hash-key"), "utf8");
    const id = await created(first, "server");
    await first.close();
    const library = new FileStorage({ dir });
    assert.deepEqual(await new Manager({ storage: library }).session(id).data(), { k: "server" });
    assert.equal(readFileSync(join(dir, ".id-hash-key"), "utf8"), key, "the key is not rewritten");
    await library.close();
  });

  it('ids: "raw" keeps <id>.session and makes no key file', async () => {
    const dir = freshDir();
    const storage = new FileStorage({ dir, ids: "raw" });
    const id = await created(storage);
    await storage.close();
    assert.deepEqual(readdirSync(dir), [`${id}.session`]);
    // An upgrade from a release that kept raw ids: the option reads what it wrote.
    const upgraded = new FileStorage({ dir, ids: "raw" });
    assert.deepEqual(await new Manager({ storage: upgraded }).session(id).data(), { k: "v" });
    assert.equal(await upgraded.storedName(id), id);
    await upgraded.close();
  });

  it("uses an idHashKey given explicitly, and keeps no key file then", async () => {
    const dir = freshDir();
    const key = Buffer.alloc(32, 5);
    const storage = new FileStorage({ dir, idHashKey: key });
    const id = await created(storage);
    await storage.close();
    assert.equal(existsSync(join(dir, ".id-hash-key")), false);
    const expected = await new HashedIdStorage(new MemoryStorage(), key).storedId(id);
    assert.deepEqual(readdirSync(dir), [`${expected}.session`]);
    // Another key finds nothing there.
    const other = new FileStorage({ dir, idHashKey: Buffer.alloc(32, 6) });
    assert.deepEqual(await new Manager({ storage: other }).session(id).data(), {});
    await other.close();
  });

  it("refuses a bad ids option, a key with raw ids, and a short key", () => {
    assert.throws(() => new FileStorage({ dir: "x", ids: "plain" as "raw" }), {
      name: "ConfigError",
      option: "ids",
    });
    assert.throws(() => new FileStorage({ dir: "x", ids: "raw", idHashKey: Buffer.alloc(32) }), {
      name: "ConfigError",
      option: "idHashKey",
    });
    assert.throws(() => new FileStorage({ dir: "x", idHashKey: Buffer.alloc(16) }), {
      name: "ConfigError",
      message: /at least 32 bytes/,
    });
  });

  it("logs a corrupt file it sets aside through the Manager's logger when given none", async () => {
    const dir = freshDir();
    const storage = new FileStorage({ dir });
    const logger = capturingLogger();
    const manager = new Manager({ storage, logger });
    const session = manager.session();
    session.set("k", 1);
    await session.commit();
    const id = session.id as string;
    const name = `${await storage.storedName(id)}.session`;
    corrupt(join(dir, name), "garbage");
    // A fresh storage (no read cache) over the garbage, given to a Manager with the logger.
    const reader = new FileStorage({ dir });
    const readerLog = capturingLogger();
    const readerManager = new Manager({ storage: reader, logger: readerLog });
    assert.deepEqual(await readerManager.session(id).data(), {}, "reads as missing");
    assert.ok(
      readerLog.lines.some((l) => l.level === "warn" && /unreadable session file/.test(l.msg)),
      JSON.stringify(readerLog.lines),
    );
    assert.ok(
      readdirSync(dir).some((n) => n.endsWith(".corrupt")),
      "set aside",
    );
    // A storage with its own logger keeps it: the Manager's does not take over.
    const own = capturingLogger();
    const third = new FileStorage({ dir, logger: own });
    corrupt(join(dir, name), "garbage again");
    const thirdManagerLog = capturingLogger();
    await new Manager({ storage: third, logger: thirdManagerLog }).session(id).data();
    assert.ok(own.lines.some((l) => /unreadable session file/.test(l.msg)));
    assert.equal(thirdManagerLog.lines.length, 0);
    await Promise.all([storage.close(), reader.close(), third.close()]);
  });
});
