// Regenerate racing writes, on every storage: how many writes acknowledged under the old
// id are missing from the regenerated session. Runs the atomic Storage.regenerate and, as
// the baseline in the same run, the three storage calls regenerate used to be (read the
// old session, create the new one, destroy the old one).
//
//   node --import tsx scripts/regenerateRace.ts [--trials 20] [--writers 30]
//
// Needs redis-server on PATH (a private one is started on a free port).
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { silentLogger } from "../src/core/Logger.js";
import { MemoryStorage } from "../src/core/memory/MemoryStorage.js";
import { newSessionId } from "../src/core/session/ids.js";
import { Manager } from "../src/core/session/Manager.js";
import type { Op, Storage } from "../src/core/storage/Storage.js";
import { FileStorage } from "../src/file/FileStorage.js";
import { RedisHashStorage } from "../src/redis/storage/RedisHashStorage.js";
import { RedisStorage } from "../src/redis/storage/RedisStorage.js";
import { requireTool } from "../test/support/systemTools.js";

const { values } = parseArgs({
  options: {
    trials: { type: "string", default: "20" },
    writers: { type: "string", default: "30" },
  },
});
const TRIALS = Number(values.trials);
const WRITERS = Number(values.writers);
const LONG = { ttlMs: 60_000 };

type Regenerate = (m: Manager, oldId: string) => Promise<string>;

const atomic: Regenerate = (m, oldId) => m.session(oldId).regenerate();

/** What Session.regenerate did before: three storage calls with gaps between them. */
const threeCalls: Regenerate = async (m, oldId) => {
  const { storage, applyOptions } = m.context;
  const record = await storage.read(oldId, LONG);
  if (!record) throw new Error("no session");
  const ops: Op[] = Object.entries(record.data).map(([key, value]) => ({
    type: "set",
    key,
    value,
  }));
  const newId = newSessionId();
  await storage.apply(newId, { ops }, applyOptions.create);
  await storage.destroy(oldId);
  return newId;
};

async function race(storage: Storage, regenerate: Regenerate) {
  const m = new Manager({ storage, logger: silentLogger });
  let acknowledged = 0;
  let lost = 0;
  for (let trial = 0; trial < TRIALS; trial++) {
    const owner = m.session();
    owner.set("seed", trial);
    await owner.commit();
    const oldId = owner.id as string;
    const writers = Array.from({ length: WRITERS }, () => m.session(oldId));
    const writes = writers.map(async (w, i) => {
      if (i % 3 > 0) await new Promise((r) => setTimeout(r, i % 3 === 1 ? 0 : 2));
      w.set(`w${i}`, i);
      await w.commit();
    });
    const [newId] = await Promise.all([regenerate(m, oldId), ...writes]);
    const moved = (await storage.read(newId, LONG))?.data ?? {};
    for (const [i, w] of writers.entries()) {
      if (w.id !== oldId) continue;
      acknowledged++;
      if (moved[`w${i}`] !== i) lost++;
    }
  }
  return { acknowledged, lost };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer().listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

requireTool("redis-server", "redis-server");
const port = await freePort();
const redisServer = spawn(
  "redis-server",
  ["--port", String(port), "--save", "", "--appendonly", "no"],
  {
    stdio: "ignore",
  },
);
redisServer.on("error", () => {
  console.error("redis-server not found: apt-get install -y redis-server");
  process.exit(2);
});
const dir = await mkdtemp(join(tmpdir(), "sessiond-race-"));
const clients: Redis[] = [];
const redisClient = async () => {
  for (;;) {
    const c = new Redis(port, { lazyConnect: true, enableAutoPipelining: true });
    c.on("error", () => {});
    try {
      await c.connect();
      clients.push(c);
      return c;
    } catch {
      c.disconnect();
      await new Promise((r) => setTimeout(r, 100));
    }
  }
};
const storages: [string, () => Promise<Storage>][] = [
  ["memory", async () => new MemoryStorage()],
  ["file", async () => new FileStorage({ dir: join(dir, newSessionId()), logger: silentLogger })],
  [
    "redis",
    async () => new RedisStorage(await redisClient(), { prefix: `race${newSessionId()}:` }),
  ],
  [
    "redis-hash",
    async () => new RedisHashStorage(await redisClient(), { prefix: `race${newSessionId()}:` }),
  ],
];
try {
  console.log(`${TRIALS} trials x ${WRITERS} writes racing one regenerate each\n`);
  console.log("| storage | regenerate | acknowledged under the old id | lost |");
  console.log("|---|---|---|---|");
  for (const [name, make] of storages) {
    for (const [label, fn] of [
      ["three calls (before)", threeCalls],
      ["atomic (now)", atomic],
    ] as const) {
      const storage = await make();
      const { acknowledged, lost } = await race(storage, fn);
      await storage.close();
      console.log(`| ${name} | ${label} | ${acknowledged} | ${lost} |`);
    }
  }
} finally {
  for (const c of clients) c.disconnect();
  redisServer.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
}
