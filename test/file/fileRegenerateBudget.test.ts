// A regenerate whose new session fits the disk budget but whose record, kept with the old
// session, does not: the move completes unrecorded (the new file cannot be taken back).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, statfsSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { defaultLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { newSessionId } from "../../src/core/session/ids.js";
import type { ApplyOptions } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { tempDir } from "../support/coreFixtures.js";

const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups) cleanup();
});

const LONG = { ttlMs: 3_600_000 };
const upsert: ApplyOptions = { mode: "upsert", ttlMs: 3_600_000, limits: defaultLimits };

describe("FileStorage regenerate under a full disk budget", () => {
  it("keepOld: moves the session even when the old file cannot grow by the record", async () => {
    const parent = tempDir("file-regen");
    cleanups.push(parent.cleanup);
    const dir = join(parent.path, "store");
    const roomy = new FileStorage({ dir, logger: silentLogger, fsync: false, ids: "raw" });
    await roomy.counted();
    const block = statfsSync(dir).bsize;
    const oldId = newSessionId();
    const path = join(dir, `${oldId}.session`);
    // A session file just under one block: its record would take it to two.
    await roomy.apply(oldId, { ops: [{ type: "set", key: "pad", value: "" }] }, upsert);
    const pad = "v".repeat(block - 16 - statSync(path).size);
    await roomy.apply(oldId, { ops: [{ type: "set", key: "pad", value: pad }] }, upsert);
    const size = statSync(path).size;
    assert.ok(size <= block && size > block - 32, `${size} bytes, a block is ${block}`);
    await roomy.close();

    // Room for the old file and the new one, one block each, and no more.
    const tight = new FileStorage({
      dir,
      logger: silentLogger,
      maxTotalBytes: 2 * block,
      ids: "raw",
    });
    await tight.counted();
    const newId = newSessionId();
    const idempotency = {
      key: randomBytes(32).toString("hex"),
      fingerprint: randomBytes(32).toString("hex"),
      windowMs: 600_000,
    };
    const moved = await tight.regenerate(oldId, newId, { ...LONG, keepOld: true, idempotency });
    assert.ok(typeof moved === "object", `regenerate answered ${String(moved)}`);
    assert.equal((await tight.read(newId, LONG))?.data.pad, pad);
    assert.equal((await tight.read(oldId, LONG))?.data.pad, pad, "the old one kept");
    const old = JSON.parse(readFileSync(path, "utf8")) as { requests?: object };
    assert.equal(old.requests, undefined, "unrecorded: the record did not fit");
    assert.equal(statSync(path).size, size);
    await tight.close();
  });
});
