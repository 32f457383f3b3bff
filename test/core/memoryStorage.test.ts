import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { resolveLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { SessionError } from "../../src/core/SessionError.js";
import { newSessionId } from "../../src/core/session/ids.js";
import { Manager } from "../../src/core/session/Manager.js";
import type { ApplyMode, ApplyOptions } from "../../src/core/storage/Storage.js";
import { sleep } from "../../src/testing/timing.js";

const opts = (mode: ApplyMode, ttlMs = 60_000): ApplyOptions => ({
  ttlMs,
  limits: resolveLimits(),
  mode,
});

function isCode(code: SessionError["code"], text?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SessionError, `expected a SessionError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (text) assert.match(err.message, text);
    return true;
  };
}

async function fill(storage: MemoryStorage, count: number, ttlMs: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) {
    const id = newSessionId();
    await storage.apply(id, { ops: [{ type: "set", key: "i", value: i }] }, opts("create", ttlMs));
    ids.push(id);
  }
  return ids;
}

describe("MemoryStorage", () => {
  it("frees expired sessions on its own, without any read (active expiry)", async () => {
    const storage = new MemoryStorage({ sweepIntervalMs: 20 });
    await fill(storage, 200, 50);
    const keep = await fill(storage, 3, 60_000);
    assert.equal(storage.size, 203);
    const deadline = Date.now() + 5_000;
    while (storage.size > 3 && Date.now() < deadline) await sleep(20);
    assert.equal(storage.size, 3, "only the live sessions remain held");
    for (const id of keep) assert.ok(await storage.read(id, { ttlMs: 60_000 }));
    await storage.close();
  });

  it("sweeps in bounded batches, and a full sweep frees every expired session at once", async () => {
    const storage = new MemoryStorage({ sweepIntervalMs: 60_000, sweepBatch: 10 });
    await fill(storage, 100, 30);
    await fill(storage, 5, 60_000);
    await sleep(60);
    const tick = storage.sweep();
    assert.ok(tick > 0 && tick <= 10, `one tick frees at most sweepBatch entries, freed ${tick}`);
    assert.equal(storage.size, 105 - tick);
    const before = storage.size;
    assert.equal(storage.sweep(Number.POSITIVE_INFINITY), before - 5);
    assert.equal(storage.size, 5);
    await storage.close();
  });

  it("bounds the number of sessions with maxSessions (resource_exhausted)", async () => {
    const storage = new MemoryStorage({ maxSessions: 3, sweepIntervalMs: 60_000 });
    const ids = await fill(storage, 3, 60_000);
    await assert.rejects(
      storage.apply(newSessionId(), { ops: [] }, opts("create")),
      isCode("resource_exhausted", /maxSessions=3/),
    );
    // Existing sessions still take writes at the bound.
    assert.ok(await storage.apply(ids[0] as string, { ops: [] }, opts("existing")));

    const m = new Manager({ storage, logger: silentLogger });
    const s = m.session();
    s.set("a", 1);
    await assert.rejects(s.commit(), isCode("resource_exhausted"));
    assert.equal(s.id, undefined, "no id was issued");
    assert.equal(storage.size, 3);
    await storage.close();
  });

  it("counts only live sessions against maxSessions: an expired one frees its slot", async () => {
    const storage = new MemoryStorage({ maxSessions: 2, sweepIntervalMs: 60_000 });
    await fill(storage, 1, 60_000);
    await fill(storage, 1, 50);
    await sleep(150); // the short-lived session has expired; no sweep tick has run
    const m = new Manager({ storage, logger: silentLogger });
    const s = m.session();
    s.set("a", 1);
    await s.commit();
    assert.ok(s.id);
    assert.equal(storage.size, 2);
    await storage.close();
  });

  it("rejects nonsense options with a ConfigError naming the option", () => {
    for (const bad of [
      { maxSessions: 0 },
      { maxSessions: -1 },
      { maxSessions: 1.5 },
      { sweepIntervalMs: 0 },
      { sweepBatch: Number.NaN },
    ]) {
      assert.throws(
        () => new MemoryStorage(bad),
        { name: "ConfigError", option: Object.keys(bad)[0] },
        JSON.stringify(bad),
      );
    }
  });
});
