// `node --import tsx scripts/bench/profileTop.ts FILE.cpuprofile [N]`: the functions with the
// most self time in a V8 CPU profile (as written by node --cpu-prof, or by the bench's
// --cpu-prof=DIR), and the same aggregated by file and folder, so a bench row's cost can be
// traced to code. The bench runs compiled JavaScript: a frame in a file with a source map
// beside it (tsc's .js.map, kept under DIR/build) is named by its TypeScript origin, so
// the folders read src/core, src/server… as in the checkout.
import { existsSync, readFileSync } from "node:fs";
import { SourceMap, type SourceMapPayload } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber?: number;
}
interface Node {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
}

const [file, topArg] = process.argv.slice(2);
if (!file) throw new Error("usage: profileTop.ts FILE.cpuprofile [N]");
const top = Number(topArg ?? 30);
const profile = JSON.parse(readFileSync(file, "utf8")) as Profile;
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
profile.samples.forEach((id, i) => {
  self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
});
const total = [...self.values()].reduce((a, b) => a + b, 0);

/** Source maps by compiled file path; null where there is none (node_modules, node:). */
const maps = new Map<string, { map: SourceMap; dir: string } | null>();
function sourceMapOf(path: string): { map: SourceMap; dir: string } | null {
  let entry = maps.get(path);
  if (entry === undefined) {
    entry = null;
    const mapFile = `${path}.map`;
    if (!path.includes("/node_modules/") && existsSync(mapFile)) {
      const payload = JSON.parse(readFileSync(mapFile, "utf8")) as SourceMapPayload;
      entry = { map: new SourceMap(payload), dir: resolve(dirname(path), payload.sourceRoot) };
    }
    maps.set(path, entry);
  }
  return entry;
}

/** Where a frame's code was written: its TypeScript file and line when a source map says. */
function origin(frame: CallFrame): { url: string; line: number } {
  const { url, lineNumber } = frame;
  if (url.startsWith("file://")) {
    const mapped = sourceMapOf(fileURLToPath(url));
    const entry = mapped?.map.findEntry(lineNumber, frame.columnNumber ?? 0);
    if (mapped && entry && "originalSource" in entry) {
      const source = entry.originalSource.startsWith("file://")
        ? fileURLToPath(entry.originalSource)
        : resolve(mapped.dir, entry.originalSource);
      return { url: `file://${source}`, line: entry.originalLine };
    }
  }
  return { url, line: lineNumber };
}

/** A frame's file as the report names it: ~/pkg/… for node_modules, src/… for ours. */
function shortFile(frame: CallFrame): { file: string; line: number } {
  const { url, line } = origin(frame);
  const file = url
    .replace(/^.*node_modules\//, "~/")
    .replace(/^file:\/\/.*?\/(src|scripts)\//, "$1/");
  return { file, line };
}

const fns = new Map<string, number>();
const files = new Map<string, number>();
for (const [id, us] of self) {
  const frame = (byId.get(id) as Node).callFrame;
  const { file: short, line } = shortFile(frame);
  const fn = `${frame.functionName || "(anonymous)"} ${short}:${line + 1}`;
  fns.set(fn, (fns.get(fn) ?? 0) + us);
  const f = short || frame.functionName;
  files.set(f, (files.get(f) ?? 0) + us);
}
// Inclusive time: a sample counts once for every distinct function on its stack.
const parent = new Map<number, number>();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const label = (n: Node) => {
  const { file, line } = shortFile(n.callFrame);
  return `${n.callFrame.functionName || "(anonymous)"} ${file}:${line + 1}`;
};
const inclusive = new Map<string, number>();
for (const [id, us] of self) {
  // Idle samples hang under (root) too: counted, they would put (root) above 100% of busy.
  if ((byId.get(id) as Node).callFrame.functionName === "(idle)") continue;
  const seen = new Set<string>();
  for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
    const name = label(byId.get(at) as Node);
    if (seen.has(name)) continue;
    seen.add(name);
    inclusive.set(name, (inclusive.get(name) ?? 0) + us);
  }
}
// Shares are of busy time: idle is left out, it only says how long the process waited.
const idle = [...fns]
  .filter(([name]) => name.startsWith("(idle)"))
  .reduce((a, [, us]) => a + us, 0);
const busy = total - idle;
process.stdout.on("error", () => process.exit(0));
const show = (title: string, m: Map<string, number>) => {
  process.stdout.write(`\n${title} (% of busy time)\n`);
  for (const [name, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top)) {
    if (name.startsWith("(idle)")) continue;
    process.stdout.write(`${((100 * us) / busy).toFixed(1).padStart(5)}%  ${name}\n`);
  }
};
const packages = new Map<string, number>();
for (const [file, us] of files) {
  const pkg = file.startsWith("~/")
    ? file
        .split("/")
        .slice(1, file.startsWith("~/@") ? 3 : 2)
        .join("/")
    : file.startsWith("node:")
      ? file.split("/").slice(0, 3).join("/")
      : file.startsWith("src/") || file.startsWith("scripts/")
        ? file.split("/").slice(0, 2).join("/")
        : file;
  packages.set(pkg, (packages.get(pkg) ?? 0) + us);
}
process.stdout.write(
  `busy ${(busy / 1e6).toFixed(1)} s of ${(total / 1e6).toFixed(1)} s profiled\n`,
);
show("self time by package", packages);
show("self time by function", fns);
show("inclusive time by function", inclusive);
