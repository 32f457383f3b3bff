/** What one h2load run reports on stdout, reduced to what the bench needs. */
export interface H2loadSummary {
  seconds: number;
  total: number;
  succeeded: number;
  failed: number;
  errored: number;
  timeout: number;
  status2xx: number;
  /** Bytes of DATA frames received: the response bodies (gRPC frames or HTTP bodies). */
  dataBytes: number;
}

function match(text: string, re: RegExp, what: string): RegExpMatchArray {
  const m = text.match(re);
  if (!m) throw new Error(`h2load output has no ${what} line:\n${text.slice(-2000)}`);
  return m;
}

const UNIT_SECONDS: Record<string, number> = { s: 1, ms: 1e-3, us: 1e-6 };

export function parseH2loadOutput(text: string): H2loadSummary {
  const fin = match(text, /^finished in ([\d.]+)(s|ms|us),/m, "finished");
  const req = match(
    text,
    /^requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m,
    "requests",
  );
  const codes = match(text, /^status codes: (\d+) 2xx/m, "status codes");
  const traffic = match(text, /^traffic: .*\((\d+)\) data$/m, "traffic");
  return {
    seconds: Number(fin[1]) * UNIT_SECONDS[fin[2]],
    total: Number(req[1]),
    succeeded: Number(req[2]),
    failed: Number(req[3]),
    errored: Number(req[4]),
    timeout: Number(req[5]),
    status2xx: Number(codes[1]),
    dataBytes: Number(traffic[1]),
  };
}

/**
 * Per-request latencies in microseconds from an h2load --log-file (tab-separated: start
 * time in microseconds since the epoch, HTTP status, microseconds until the response ended).
 */
export function parseH2loadLog(text: string): number[] {
  const out: number[] = [];
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const [, status, micros] = line.split("\t");
    if (status === undefined || micros === undefined) {
      throw new Error(`unexpected h2load log line: ${JSON.stringify(line)}`);
    }
    out.push(Number(micros));
  }
  return out;
}
