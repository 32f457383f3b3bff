// FileDocumentStore's own promises, below the engine: what a commit does on disk.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { silentLogger } from "../../src/core/Logger.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { recordOf } from "../../src/core/storage/requestRecords.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { tempDir } from "../support/coreFixtures.js";

const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

function fresh() {
  const parent = tempDir("file-store");
  cleanups.push(parent.cleanup);
  const dir = join(parent.path, "store");
  const storage = new FileStorage({ dir, logger: silentLogger, fsync: false });
  return { storage, store: storage.store, dir };
}

const doc = (now: number) => ({
  version: 1,
  createTime: now,
  expireTime: now + 60_000,
  data: { a: 1 },
});

describe("FileDocumentStore", () => {
  it("a create that finds the file made meanwhile (another process) commits nothing", async () => {
    const { storage, store, dir } = fresh();
    await storage.open();
    const id = newSessionId();
    const loaded = await store.load(id, {});
    assert.equal(loaded.session, undefined);
    writeFileSync(join(dir, `${id}.session`), "another process's");
    const put = { kind: "put" as const, doc: doc(loaded.now) };
    assert.equal(await store.commit([{ id, revision: loaded.revision, change: put }]), false);
    assert.equal(readFileSync(join(dir, `${id}.session`), "utf8"), "another process's");
    await storage.close();
  });

  it("a create's record goes to its own file; the session's file is not written", async () => {
    const { storage, store, dir } = fresh();
    await storage.open();
    const id = newSessionId();
    const idem = {
      key: randomBytes(32).toString("hex"),
      fingerprint: randomBytes(32).toString("hex"),
      windowMs: 600_000,
    };
    const ref = { key: idem.key, create: true };
    const loaded = await store.load(id, { record: ref });
    const record = recordOf(idem, loaded.now, { refused: true });
    const keep = { kind: "keep" as const };
    const write = { id, revision: loaded.revision, change: keep, record: { ref, record } };
    assert.equal(await store.commit([write]), true);
    assert.ok(!existsSync(join(dir, `${id}.session`)));
    const held = JSON.parse(readFileSync(join(dir, `_r_${idem.key}.session`), "utf8"));
    assert.equal(held.gone, true);
    assert.deepEqual(Object.keys(held.requests), [idem.key]);
    // Found again by its key alone, whatever the id.
    const again = await store.load(newSessionId(), { record: ref });
    assert.deepEqual(again.record, record);
    await storage.close();
  });
});
