import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requireTool } from "../../test/support/systemTools.js";
import { type H2loadSummary, parseH2loadLog, parseH2loadOutput } from "./parseH2load.js";

/** Fails early, with the fix, when the load generator is not installed. */
export function assertH2loadInstalled(): void {
  requireTool("h2load", "nghttp2-client");
}

export interface LoadSpec {
  url: string;
  /** One header set per h2load process: several processes let a round rotate session ids. */
  headerSets: readonly (readonly string[])[];
  /** Request body file (a pre-encoded gRPC frame); absent for plain GETs. */
  dataFile?: string;
  http1?: boolean;
  clients: number;
  streams: number;
}

export interface RoundResult {
  requests: number;
  succeeded: number;
  seconds: number;
  rps: number;
  dataBytes: number;
  /** Successes per header set, in order: writes are checked against them. */
  perSet: number[];
  /** Response body bytes per header set: reads are checked against them. */
  perSetDataBytes: number[];
  latenciesUs: number[];
  problems: string[];
}

/**
 * One round: a process per header set, all on `cpu`, `requests` split evenly between them.
 * Throughput is all successes over the longest process's measured time.
 */
export async function runRound(
  spec: LoadSpec,
  requests: number,
  cpu: number,
  timeoutMs = 60_000,
): Promise<RoundResult> {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-bench-h2load-"));
  try {
    const each = Math.max(spec.clients, Math.ceil(requests / spec.headerSets.length));
    const runs = spec.headerSets.map((headers, i) => {
      const log = join(dir, `${i}.log`);
      const args = ["-c", String(cpu), "h2load", "-n", String(each), "-c", String(spec.clients)];
      args.push("-m", String(spec.streams), "--log-file", log);
      if (spec.http1) args.push("--h1");
      if (spec.dataFile) args.push("-d", spec.dataFile);
      for (const h of headers) args.push("-H", h);
      args.push(spec.url);
      return runOne(args, timeoutMs).then((summary) => ({ summary, log }));
    });
    const results = await Promise.all(runs);
    const latenciesUs: number[] = [];
    const problems: string[] = [];
    let succeeded = 0;
    let total = 0;
    let dataBytes = 0;
    let seconds = 0;
    for (const { summary, log } of results) {
      succeeded += summary.succeeded;
      total += summary.total;
      dataBytes += summary.dataBytes;
      seconds = Math.max(seconds, summary.seconds);
      const bad = summary.total - summary.succeeded;
      if (bad > 0 || summary.status2xx !== summary.succeeded) {
        problems.push(
          `${bad} of ${summary.total} requests not successful (failed ${summary.failed}, errored ${summary.errored}, timeout ${summary.timeout})`,
        );
      }
      for (const us of parseH2loadLog(readFileSync(log, "utf8"))) latenciesUs.push(us);
    }
    return {
      requests: total,
      succeeded,
      seconds,
      rps: seconds > 0 ? succeeded / seconds : 0,
      dataBytes,
      perSet: results.map((r) => r.summary.succeeded),
      perSetDataBytes: results.map((r) => r.summary.dataBytes),
      latenciesUs,
      problems,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function runOne(args: string[], timeoutMs: number): Promise<H2loadSummary> {
  return new Promise((resolve, reject) => {
    const child = spawn("taskset", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`h2load did not finish within ${timeoutMs} ms (server hung?)`));
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    // "close", not "exit": only then has all of its output been read.
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) reject(new Error(`h2load exited with ${code}:\n${out.slice(-2000)}`));
      else {
        try {
          resolve(parseH2loadOutput(out));
        } catch (err) {
          reject(err);
        }
      }
    });
  });
}
