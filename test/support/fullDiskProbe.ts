// Run as a child on a small filesystem of its own (see onTinyFilesystem): fills a
// FileStorage on argv[2], built with the options in argv[3] (JSON), with sessions of one
// ~60 KB value until a write fails, then checks what a full disk leaves intact. Prints
// the outcome as one JSON line.

import { readdirSync } from "node:fs";
import { resolveLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { SessionError } from "../../src/core/SessionError.js";
import type { ApplyMode } from "../../src/core/storage/Storage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { FILE_SETTINGS } from "../../src/server/createStorage.js";

const dir = process.argv[2] as string;
const options = JSON.parse(process.argv[3] ?? "{}") as Record<string, number | null>;
// JSON has no Infinity: null stands for it.
for (const [key, value] of Object.entries(options)) {
  if (value === null) options[key] = Number.POSITIVE_INFINITY;
}
const storage = new FileStorage({
  dir,
  logger: silentLogger,
  settingNames: FILE_SETTINGS,
  ids: "raw", // the test reads `<id>.session` by id
  ...options,
});
// (Optional: so that this probe also runs against storages without budgets.)
await storage.counted?.();
const opts = (mode: ApplyMode) => ({ ttlMs: 3_600_000, limits: resolveLimits(), mode });
const value = (n: number) => `${n}:`.padEnd(60_000, "x");
const failure = (err: unknown) => {
  if (!(err instanceof SessionError)) throw err;
  return { code: err.code, message: err.message };
};

const ids: string[] = [];
let refused: { code: string; message: string } | undefined;
for (let n = 0; n < 1000 && refused === undefined; n++) {
  const id = `s${n}`;
  try {
    await storage.apply(id, { ops: [{ type: "set", key: "v", value: value(n) }] }, opts("create"));
    ids.push(id);
  } catch (err) {
    refused = failure(err);
  }
}
const first = ids[0] as string;
// Growing an existing session past what is left fails too, and leaves it as it was.
let grow: { code: string; message: string } | undefined;
try {
  const ops = [1, 2, 3, 4].map((k) => ({ type: "set" as const, key: `more${k}`, value: value(k) }));
  await storage.apply(first, { ops }, opts("existing"));
} catch (err) {
  grow = failure(err);
}
const firstAfter = await storage.read(first, { ttlMs: 3_600_000 });
const intact = firstAfter?.version === 1 && firstAfter.data.v === value(0);
const leftovers = readdirSync(dir).filter((name) => !name.endsWith(".session"));
// Deleting gives the space back: a new session fits again.
await storage.destroy(ids.at(-1) as string);
await storage.destroy(ids.at(-2) as string);
let afterDestroy = "ok";
try {
  await storage.apply(
    "again",
    { ops: [{ type: "set", key: "v", value: value(9) }] },
    opts("create"),
  );
} catch (err) {
  afterDestroy = `${failure(err).code}: ${failure(err).message}`;
}
console.log(
  JSON.stringify({ accepted: ids.length, refused, grow, intact, leftovers, afterDestroy }),
);
await storage.close();
