// FileStorage's read cache must never serve what the disk no longer says: every change
// made behind its back (another process on the same directory, a touch, a deletion) is
// seen by the next read, and what it hands out is a copy.
import assert from "node:assert/strict";
import { unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { resolveLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { newSessionId } from "../../src/core/session/ids.js";
import type { ApplyMode, ApplyOptions } from "../../src/core/storage/Storage.js";
import { FileStorage, type FileStorageOptions } from "../../src/file/FileStorage.js";
import { tempDir } from "../support/coreFixtures.js";

const LONG = { ttlMs: 60_000 };
const opts = (mode: ApplyMode): ApplyOptions => ({ ttlMs: 60_000, limits: resolveLimits(), mode });
const cleanups: Array<() => void> = [];
const storages: FileStorage[] = [];
after(async () => {
  for (const s of storages) await s.close();
  for (const c of cleanups) c();
});

function pair(options: Partial<FileStorageOptions> = {}): [FileStorage, FileStorage, string] {
  const { path: dir, cleanup } = tempDir("read-cache");
  cleanups.push(cleanup);
  const make = () =>
    new FileStorage({ dir, logger: silentLogger, fsync: false, ids: "raw", ...options });
  const a = make();
  const b = make();
  storages.push(a, b);
  return [a, b, dir];
}

async function created(storage: FileStorage, value: string): Promise<string> {
  const id = newSessionId();
  await storage.apply(id, { ops: [{ type: "set", key: "k", value }] }, opts("create"));
  return id;
}

describe("file storage read cache", () => {
  it("sees a write another instance made to the same directory", async () => {
    const [a, b] = pair();
    const id = await created(a, "one");
    assert.deepEqual(await a.readKey(id, "k", LONG), { found: true, value: "one" });
    // Same length on purpose: only the file's identity can tell the cache it changed.
    await b.apply(id, { ops: [{ type: "set", key: "k", value: "two" }] }, opts("existing"));
    assert.deepEqual(await a.readKey(id, "k", LONG), { found: true, value: "two" });
    assert.equal((await a.read(id, LONG))?.version, 2);
  });

  it("sees a file rewritten in place with the same size", async () => {
    const [a, , dir] = pair();
    const id = await created(a, "aaaa");
    await a.readKey(id, "k", LONG);
    const path = join(dir, `${id}.session`);
    const { readFileSync, statSync, utimesSync } = await import("node:fs");
    const before = statSync(path);
    writeFileSync(path, readFileSync(path, "utf8").replace('"aaaa"', '"bbbb"'));
    utimesSync(path, before.atime, before.mtime);
    assert.deepEqual(await a.readKey(id, "k", LONG), { found: true, value: "bbbb" });
  });

  it("reports the expiry another instance's touch set", async () => {
    const [a, b] = pair();
    const id = await created(a, "v");
    const first = await a.read(id, LONG);
    await new Promise((r) => setTimeout(r, 20));
    const touched = await b.touch(id, { ttlMs: 120_000 });
    assert.ok(touched && first && touched.expireTime > first.expireTime);
    await new Promise((r) => setTimeout(r, 30));
    // Within the slide margin a read keeps the expiry it finds: b's, if a looked again.
    const again = await a.read(id, { ttlMs: 120_000 });
    assert.equal(again?.expireTime, touched.expireTime);
  });

  it("forgets a session whose file was deleted behind its back", async () => {
    const [a, , dir] = pair();
    const id = await created(a, "v");
    await a.readKey(id, "k", LONG);
    unlinkSync(join(dir, `${id}.session`));
    assert.equal(await a.readKey(id, "k", LONG), undefined);
    assert.equal(await a.read(id, LONG), undefined);
  });

  it("sees a session destroyed by another instance", async () => {
    const [a, b] = pair();
    const id = await created(a, "v");
    await a.read(id, LONG);
    await b.destroy(id);
    assert.equal(await a.read(id, LONG), undefined);
  });

  it("hands out copies: mutating a read changes nothing stored", async () => {
    const [a] = pair();
    const id = newSessionId();
    await a.apply(id, { ops: [{ type: "set", key: "o", value: { n: [1] } }] }, opts("create"));
    const first = await a.read(id, LONG);
    assert.ok(first);
    (first.data.o as { n: number[] }).n.push(2);
    const key = await a.readKey(id, "o", LONG);
    assert.ok(key);
    (key.value as { n: number[] }).n.push(3);
    assert.deepEqual((await a.read(id, LONG))?.data, { o: { n: [1] } });
  });

  it("works with the cache off", async () => {
    const [a, b] = pair({ readCacheBytes: 0 });
    const id = await created(a, "one");
    await a.readKey(id, "k", LONG);
    await b.apply(id, { ops: [{ type: "set", key: "k", value: "two" }] }, opts("existing"));
    assert.deepEqual(await a.readKey(id, "k", LONG), { found: true, value: "two" });
  });

  it("refuses a bad cache size", () => {
    assert.throws(() => new FileStorage({ dir: "unused", readCacheBytes: -1 }), {
      name: "ConfigError",
      option: "readCacheBytes",
    });
  });
});
