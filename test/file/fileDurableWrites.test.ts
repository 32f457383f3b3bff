import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { resolveLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { SessionError } from "../../src/core/SessionError.js";
import type { ApplyMode, ApplyOptions } from "../../src/core/storage/Storage.js";
import { DirSync } from "../../src/file/DirSync.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { tempDir } from "../support/coreFixtures.js";

const opts = (mode: ApplyMode): ApplyOptions => ({
  ttlMs: 60_000,
  limits: resolveLimits(),
  mode,
});
const id = (n: number) => `d${String(n).padStart(4, "0")}${"y".repeat(38)}`;

const dirs: Array<() => void> = [];
after(() => {
  for (const cleanup of dirs) cleanup();
});

function fresh(fsync = true): { storage: FileStorage; dir: string } {
  const { path, cleanup } = tempDir("durable");
  dirs.push(cleanup);
  const storage = new FileStorage({ dir: path, logger: silentLogger, ids: "raw", fsync });
  return { storage, dir: path };
}

describe("DirSync", () => {
  it("lets callers arriving during an fsync share the next one, never the one in flight", async () => {
    const { path, cleanup } = tempDir("dirsync");
    dirs.push(cleanup);
    const sync = new DirSync(path);
    const first = sync.sync();
    // Arrived while the first is in flight: it cannot cover them, the next one does.
    const later = Array.from({ length: 50 }, () => sync.sync());
    await first;
    assert.equal(sync.syncs, 1);
    await Promise.all(later);
    assert.equal(sync.syncs, 2);
    // Nothing in flight: a caller starts its own.
    await sync.sync();
    assert.equal(sync.syncs, 3);
  });

  it("rejects the callers of a failed fsync and serves the next ones", async () => {
    const { path, cleanup } = tempDir("dirsync");
    dirs.push(cleanup);
    const sync = new DirSync(join(path, "missing"));
    await assert.rejects(Promise.all([sync.sync(), sync.sync()]), { code: "ENOENT" });
    const ok = new DirSync(path);
    await ok.sync();
    assert.equal(ok.syncs, 1);
  });
});

describe("FileStorage durable writes", () => {
  it("covers concurrent writes to many sessions with shared directory fsyncs", async () => {
    const { storage } = fresh();
    const n = 200;
    await Promise.all(
      Array.from({ length: n }, (_, i) =>
        storage.apply(id(i), { ops: [{ type: "set", key: "v", value: i }] }, opts("create")),
      ),
    );
    const syncs = storage.store.files.dirSync.syncs;
    assert.ok(syncs >= 1, "every write waited for a directory fsync");
    assert.ok(syncs < n, `${syncs} directory fsyncs for ${n} writes: none shared`);
    for (let i = 0; i < n; i++) {
      const read = await storage.read(id(i), { ttlMs: 60_000 });
      assert.deepEqual(read?.data, { v: i });
    }
    // A destroy waits for one too.
    const before = storage.store.files.dirSync.syncs;
    await storage.destroy(id(0));
    assert.equal(storage.store.files.dirSync.syncs, before + 1);
    await storage.close();
  });

  it("syncs no directory with fsync: false", async () => {
    const { storage } = fresh(false);
    await storage.apply(id(1), { ops: [{ type: "set", key: "v", value: 1 }] }, opts("create"));
    await storage.apply(id(1), { ops: [{ type: "set", key: "v", value: 2 }] }, opts("existing"));
    await storage.destroy(id(1));
    assert.equal(storage.store.files.dirSync.syncs, 0);
    await storage.close();
  });

  it("says a write may have been applied when the directory fsync fails after the rename", async () => {
    const { storage, dir } = fresh();
    await storage.apply(id(1), { ops: [{ type: "set", key: "v", value: 1 }] }, opts("create"));
    const files = storage.store.files;
    const counted = storage.budget;
    // Blocks more than the first: the budget's count shows which of the two it kept.
    const big = "z".repeat(20_000);
    files.dirSync.sync = () => Promise.reject(Object.assign(new Error("EIO"), { code: "EIO" }));
    const err = await storage
      .apply(id(1), { ops: [{ type: "set", key: "v", value: big }] }, opts("existing"))
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(err instanceof SessionError, String(err));
    assert.equal(err.code, "unavailable");
    assert.equal(err.reason, "WRITE_OUTCOME_UNKNOWN");
    assert.match(err.message, /may have been applied/);
    // It was: the file is in place, and the budget counts it, not the one it replaced.
    assert.deepEqual((await storage.read(id(1), { ttlMs: 60_000 }))?.data, { v: big });
    assert.ok((await lstat(join(dir, `${id(1)}.session`))).size > 20_000);
    assert.equal(storage.budget.files, 1);
    assert.ok(storage.budget.bytes > counted.bytes, `${storage.budget.bytes} bytes counted`);
    assert.deepEqual(
      (await readdir(dir)).filter((name) => name.includes(".tmp")),
      [],
      "no temp file left",
    );
    await storage.close();
  });

  it("loses no acknowledged write when the process is SIGKILLed under 200 concurrent writers", async () => {
    const { path: dir, cleanup } = tempDir("crash");
    dirs.push(cleanup);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", fileURLToPath(new URL("crashWriter.ts", import.meta.url)), dir, "200"],
      { cwd: fileURLToPath(new URL("../..", import.meta.url)), stdio: ["ignore", "pipe", "pipe"] },
    );
    let stderr = "";
    child.stderr.on("data", (chunk) => {
      stderr += chunk;
    });
    const acked = new Map<string, number>();
    let acks = 0;
    let pending = "";
    const killed = new Promise<void>((resolve, reject) => {
      child.on("exit", (code, signal) => {
        if (signal === "SIGKILL") resolve();
        else reject(new Error(`the writer exited (${code}) before the kill: ${stderr}`));
      });
    });
    child.stdout.on("data", (chunk: Buffer) => {
      // What the child printed before it died: its acknowledgements, complete lines only.
      const lines = (pending + chunk.toString()).split("\n");
      pending = lines.pop() ?? "";
      for (const line of lines) {
        const [session, value] = line.split(" ");
        acked.set(session as string, Number(value));
        // Killed mid-stream, with writes in flight on every session.
        if (++acks === 3000) child.kill("SIGKILL");
      }
    });
    await killed;
    assert.ok(acks >= 3000, `only ${acks} acknowledgements`);
    const storage = new FileStorage({ dir, logger: silentLogger, ids: "raw" });
    let lost = 0;
    for (const [session, value] of acked) {
      const read = await storage.read(session, { ttlMs: 600_000 });
      const stored = read?.data.n;
      // A write in flight at the kill may have landed too: never less than acknowledged.
      if (typeof stored !== "number" || stored < value) lost++;
    }
    await storage.close();
    assert.equal(lost, 0, `${lost} of ${acked.size} sessions lost an acknowledged write`);
  });
});
