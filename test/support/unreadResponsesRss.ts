// Measures what a client that never reads costs the server: one connection with its
// flow-control window at 0 asks GetData of a ~1 MiB session N times and reads nothing.
// Prints the server's RSS before and after. Not a test (RSS is noisy); run by hand:
//   node --import tsx test/support/unreadResponsesRss.ts [repo root] [calls, default 300]
// The repo root may be an older checkout, to compare (its node_modules must resolve).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import http2 from "node:http2";
import { credentials } from "@grpc/grpc-js";
import { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { REPO_ROOT } from "./serverProcess.js";

const root = process.argv[2] ?? REPO_ROOT;
const calls = Number(process.argv[3] ?? 300);

const rssMiB = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const child = spawn(
  process.execPath,
  ["--import", "tsx", "src/server/main.ts", "--port", "0", "--storage", "memory"],
  { cwd: root, stdio: ["ignore", "ignore", "pipe"] },
);
const port = await new Promise<number>((resolve, reject) => {
  let text = "";
  child.stderr.on("data", (chunk) => {
    text += chunk;
    const match = /"msg":"listening".*?"port":(\d+)/.exec(text);
    if (match) resolve(Number(match[1]));
  });
  child.on("exit", () => reject(new Error(`server exited:\n${text}`)));
});
const pid = child.pid as number;

const client = new SessionServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
const data = Object.fromEntries(
  Array.from({ length: 16 }, (_, i) => [`k${i}`, "x".repeat(60_000)]),
);
const id = await new Promise<string>((resolve, reject) =>
  client.setMap({ data }, (err, res) => (err ? reject(err) : resolve(res.sessionId))),
);
client.close();
await sleep(1000);
const before = rssMiB(pid);

const h2 = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 0 } });
h2.on("error", () => {});
const request = Buffer.alloc(5); // an empty GetDataRequest
let reset = 0;
for (let i = 0; i < calls; i++) {
  const stream = h2.request({
    ":method": "POST",
    ":path": "/sessiond.v1.SessionService/GetData",
    "content-type": "application/grpc",
    te: "trailers",
    "x-session-id": id,
  });
  stream.on("error", () => {});
  stream.on("close", () => {
    if (stream.rstCode) reset++;
  });
  stream.end(request);
}
let peak = before;
for (let s = 0; s < 10; s++) {
  await sleep(1000);
  peak = Math.max(peak, rssMiB(pid));
}
const after = rssMiB(pid);
console.log(
  JSON.stringify({
    root,
    calls,
    rssBeforeMiB: Math.round(before),
    rssPeakMiB: Math.round(peak),
    rssAfter10sMiB: Math.round(after),
    streamsReset: reset,
    connectionClosedByServer: h2.closed || h2.destroyed,
  }),
);
h2.destroy();
child.kill("SIGTERM");
