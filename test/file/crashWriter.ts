// A child for fileDurableWrites.test.ts: `writers` concurrent writers on as many sessions of
// a FileStorage in `dir` (fsync on), each setting its counter 1, 2, 3, ... one call at a
// time, printing "<session> <value>" once a write is acknowledged, until it is killed.
import { resolveLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import type { ApplyMode, ApplyOptions } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";

const [dir, count] = process.argv.slice(2);
const storage = new FileStorage({ dir: dir as string, logger: silentLogger, ids: "raw" });
const limits = resolveLimits();
const opts = (mode: ApplyMode): ApplyOptions => ({ ttlMs: 600_000, limits, mode });

async function writer(n: number): Promise<void> {
  const id = `c${String(n).padStart(4, "0")}${"x".repeat(38)}`;
  for (let value = 1; ; value++) {
    const mode = value === 1 ? "create" : "existing";
    await storage.apply(id, { ops: [{ type: "set", key: "n", value }] }, opts(mode));
    process.stdout.write(`${id} ${value}\n`);
  }
}

await storage.open();
await Promise.all(Array.from({ length: Number(count) }, (_, n) => writer(n)));
