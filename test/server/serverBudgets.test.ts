// Storage budgets through the real server process (issue 8, "unbounded by default"): a
// client sending 1 MiB SetMaps, eight at a time, gets RESOURCE_EXHAUSTED once a budget is
// reached, while the process stays up and keeps serving everyone else.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import type { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { abuse, mebibyteSetMap } from "../support/abuser.js";
import { tempDir } from "../support/coreFixtures.js";
import { checkHealth, sessionClient, unary } from "../support/serverClients.js";
import { ServerProcess } from "../support/serverProcess.js";

const dirs: Array<() => void> = [];
after(() => {
  for (const cleanup of dirs) cleanup();
});

/** A small session of its own, made before the abuse starts. */
async function bystander(client: SessionServiceClient): Promise<string> {
  const { headers } = await unary(client, client.set, { key: "name", value: "bob" });
  return String(headers.get("x-session-id")[0]);
}

/** Reads it back and rewrites it without growing it: both must keep working when full. */
async function bystanderStillServed(client: SessionServiceClient, id: string): Promise<void> {
  const read = await unary(client, client.get, { key: "name" }, id);
  assert.equal(read.response.value, "bob");
  await unary(client, client.set, { key: "name", value: "bob" }, id);
  const data = await unary(client, client.getData, {}, id);
  assert.equal(data.response.data?.name, "bob");
}

const refusals = (n: number) => (r: { refused: Map<number, number> }) =>
  [...r.refused.values()].reduce((a, b) => a + b, 0) >= n;

describe("storage budgets through the server", () => {
  it("memory storage: RESOURCE_EXHAUSTED beyond --memory-max-bytes, and room again after RemoveAll", async () => {
    const server = await ServerProcess.start(["--storage", "memory", "--memory-max-bytes", "3MiB"]);
    const client = sessionClient(server.address);
    try {
      const id = await bystander(client);
      const result = await abuse(server.address, refusals(16));
      assert.ok(result.accepted >= 1 && result.accepted <= 3, `${result.accepted} accepted`);
      assert.deepEqual([...result.refused.keys()], [status.RESOURCE_EXHAUSTED]);
      assert.match(result.firstRefusal ?? "", /maxTotalBytes=3145728 .*SESSIOND_MEMORY_MAX_BYTES/);
      await bystanderStillServed(client, id);
      assert.equal(await checkHealth(server.address), "SERVING");

      // Deleted sessions give their bytes back.
      for (const gone of result.ids) await unary(client, client.removeAll, {}, gone);
      await unary(client, client.setMap, { data: mebibyteSetMap(-1) });
    } finally {
      client.close();
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  });

  it("file storage: RESOURCE_EXHAUSTED beyond --file-max-files", async () => {
    const dir = tempDir("budget-server");
    dirs.push(dir.cleanup);
    const server = await ServerProcess.start([
      "--file-dir",
      join(dir.path, "store"),
      "--file-max-files",
      "3",
    ]);
    const client = sessionClient(server.address);
    try {
      const id = await bystander(client);
      const result = await abuse(server.address, refusals(16));
      assert.equal(result.accepted, 2);
      assert.deepEqual([...result.refused.keys()], [status.RESOURCE_EXHAUSTED]);
      assert.match(result.firstRefusal ?? "", /maxFiles=3 .*SESSIOND_FILE_MAX_FILES/);
      await bystanderStillServed(client, id);
      assert.equal(await checkHealth(server.address), "SERVING");
    } finally {
      client.close();
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  });

  it("memory storage, default budget: the issue's abuser gets RESOURCE_EXHAUSTED and the process lives", async (t) => {
    // npm start's flags with a small old generation, so the default budget fills quickly;
    // without a budget this process aborted (V8 heap out of memory) after ~230 SetMaps.
    const server = await ServerProcess.start(["--storage", "memory", "--log-level", "warn"], {
      NODE_OPTIONS: "--max-semi-space-size=64 --max-old-space-size=256",
    });
    const pid = server.child.pid as number;
    let peakRssKiB = 0;
    const sampler = setInterval(() => {
      try {
        const hwm = /VmHWM:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
        peakRssKiB = Math.max(peakRssKiB, Number(hwm?.[1] ?? 0));
      } catch {
        // the process is gone: the assertions below say so
      }
    }, 50);
    const client = sessionClient(server.address);
    let died = false;
    void server.exited.then(() => {
      died = true;
    });
    try {
      const id = await bystander(client);
      // The bystander keeps calling throughout; every call must succeed.
      const latencies: number[] = [];
      let abusing = true;
      const watching = (async () => {
        while (abusing && !died) {
          const started = performance.now();
          await unary(client, client.increment, { key: "n", delta: 1 }, id);
          await unary(client, client.get, { key: "name" }, id);
          latencies.push(performance.now() - started);
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      })();
      const started = Date.now();
      const result = await abuse(server.address, (r) => died || refusals(200)(r));
      abusing = false;
      await watching;
      const seconds = (Date.now() - started) / 1000;
      assert.equal(died, false, `the server died: ${server.lines.slice(-3).join("\n")}`);
      assert.deepEqual([...result.refused.keys()], [status.RESOURCE_EXHAUSTED]);
      assert.match(result.firstRefusal ?? "", /SESSIOND_MEMORY_MAX_BYTES/);
      assert.ok(result.accepted > 50, `${result.accepted} accepted`);
      await bystanderStillServed(client, id);
      assert.equal(await checkHealth(server.address), "SERVING");
      latencies.sort((a, b) => a - b);
      const pct = (p: number) => latencies[Math.floor((latencies.length - 1) * p)]?.toFixed(0);
      t.diagnostic(
        `abuser: ${result.accepted} SetMaps accepted, ${result.refused.get(status.RESOURCE_EXHAUSTED)} RESOURCE_EXHAUSTED in ${seconds} s; ` +
          `server peak RSS ${Math.round(peakRssKiB / 1024)} MiB; bystander Increment+Get ` +
          `p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms over ${latencies.length} rounds`,
      );
    } finally {
      clearInterval(sampler);
      client.close();
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  });
});
