// Durable file writes under concurrency: N writers, each on its own session, each writing
// one call at a time through FileStorage.apply (fsync on, the default), for a few seconds;
// reports acknowledged writes per second. With --base, the commit given and this checkout
// are both compiled (tsc -p tsconfig.build.json) and run alternately (ABBA), each round in
// a fresh child process on its own directory, and each row gives the median with the
// lowest and highest round, and the median of the per-pair ratios (this / base).
//
//   node --import tsx scripts/fileWriters.ts [--base <rev>] [--writers 1,4,16,64,200]
//        [--seconds 2] [--pairs 5] [--dir <parent dir>]
//
// Without --base only this checkout runs. The parent directory should be on the disk the
// service would use (the default, the OS temp dir, may be a tmpfs where fsync is free).
import { execFileSync, spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";

const { values: flags } = parseArgs({
  options: {
    base: { type: "string" },
    writers: { type: "string", default: "1,4,16,64,200" },
    seconds: { type: "string", default: "2" },
    pairs: { type: "string", default: "5" },
    dir: { type: "string", default: tmpdir() },
  },
});

/** One round, run by a child process: plain JavaScript over one build's dist. */
const ROUND = `
const [dist, dir, writers, seconds] = process.argv.slice(2);
const { FileStorage } = await import(dist + "/file/index.js");
const { resolveLimits } = await import(dist + "/core/index.js");
const storage = new FileStorage({ dir, ids: "raw" });
await storage.open();
const limits = resolveLimits();
const opts = (mode) => ({ ttlMs: 600000, limits, mode });
const n = Number(writers);
const ids = Array.from({ length: n }, (_, i) => "w" + String(i).padStart(4, "0") + "x".repeat(38));
await Promise.all(ids.map((id) => storage.apply(id, { ops: [{ type: "set", key: "k", value: 0 }] }, opts("create"))));
let done = 0;
const end = performance.now() + Number(seconds) * 1000;
const started = performance.now();
await Promise.all(ids.map(async (id) => {
  for (let i = 1; performance.now() < end; i++) {
    await storage.apply(id, { ops: [{ type: "set", key: "k", value: i }] }, opts("existing"));
    done++;
  }
}));
const rate = done / ((performance.now() - started) / 1000);
await storage.close();
process.stdout.write(JSON.stringify({ rate }) + "\\n");
`;

function build(checkout: string, out: string): void {
  execFileSync("node_modules/.bin/tsc", ["-p", "tsconfig.build.json", "--outDir", out], {
    cwd: checkout,
    stdio: "inherit",
  });
}

function median(sorted: readonly number[]): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

function spread(values: readonly number[], digits: number): string {
  const sorted = [...values].sort((a, b) => a - b);
  const f = (v: number | undefined) => (v ?? Number.NaN).toFixed(digits);
  return `${f(median(sorted))} (${f(sorted[0])}–${f(sorted.at(-1))})`;
}

const repo = resolve(".");
const work = mkdtempSync(join(tmpdir(), "sessiond-filewriters-"));
const dataParent = mkdtempSync(join(resolve(flags.dir as string), "sessiond-filewriters-"));
const baseCheckout = join(work, "base");
try {
  const script = join(work, "round.mjs");
  writeFileSync(script, ROUND);
  const dists: Record<string, string> = {};
  mkdirSync(join(work, "this"));
  symlinkSync(join(repo, "node_modules"), join(work, "this", "node_modules"), "dir");
  copyFileSync(join(repo, "package.json"), join(work, "this", "package.json"));
  dists.this = join(work, "this", "dist");
  build(repo, dists.this);
  if (flags.base !== undefined) {
    execFileSync("git", ["worktree", "add", "--detach", baseCheckout, flags.base], {
      stdio: "ignore",
    });
    symlinkSync(join(repo, "node_modules"), join(baseCheckout, "node_modules"), "dir");
    dists.base = join(baseCheckout, "dist-compare");
    build(baseCheckout, dists.base);
  }
  const names = Object.keys(dists);
  let round = 0;
  const runOne = (name: string, writers: number): number => {
    const dir = join(dataParent, `r${round++}`);
    const child = spawnSync(
      process.execPath,
      [script, dists[name] as string, dir, String(writers), flags.seconds as string],
      { encoding: "utf8" },
    );
    rmSync(dir, { recursive: true, force: true });
    if (child.status !== 0) throw new Error(`round failed: ${child.stderr}`);
    return (JSON.parse(child.stdout) as { rate: number }).rate;
  };
  const pairs = Number(flags.pairs);
  console.log(
    `writers | ${names.map((n) => `${n} writes/s`).join(" | ")}${names.length > 1 ? " | this/base" : ""}`,
  );
  for (const writers of (flags.writers as string).split(",").map(Number)) {
    const rates: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
    const ratios: number[] = [];
    for (let p = 0; p < pairs; p++) {
      // ABBA: which build goes first alternates.
      const order = p % 2 === 0 ? names : [...names].reverse();
      const got: Record<string, number> = {};
      for (const name of order) got[name] = runOne(name, writers);
      for (const name of names) rates[name]?.push(got[name] as number);
      if (got.base !== undefined) ratios.push((got.this as number) / got.base);
    }
    const cells = names.map((n) => spread(rates[n] as number[], 0));
    if (ratios.length > 0) cells.push(spread(ratios, 2));
    console.log(`${writers} | ${cells.join(" | ")}`);
  }
} finally {
  rmSync(dataParent, { recursive: true, force: true });
  if (flags.base !== undefined) {
    spawnSync("git", ["worktree", "remove", "--force", baseCheckout], { stdio: "ignore" });
  }
  rmSync(work, { recursive: true, force: true });
}
