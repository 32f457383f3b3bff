// The benchmark's own parts that can be wrong silently: the gRPC frame encoder (h2load
// sends these bytes verbatim) and the reading of h2load's output.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeGrpcFrames, encodeGrpcFrame } from "../../scripts/bench/grpcFrame.js";
import { parseH2loadLog, parseH2loadOutput } from "../../scripts/bench/parseH2load.js";
import { interquartile, median, percentileSorted, quantile } from "../../scripts/bench/stats.js";
import { evaluateTargets, judge, targetsText } from "../../scripts/bench/targets.js";
import { GetRequest } from "../../src/gen/sessiond/v1/session.js";

test("a frame is a zero flag byte, a big-endian length, then the message", () => {
  const message = GetRequest.encode({ key: "k0" }).finish();
  const frame = encodeGrpcFrame(message);
  assert.deepEqual([...frame], [0, 0, 0, 0, 4, 0x0a, 0x02, 0x6b, 0x30]);
  assert.equal(GetRequest.decode(decodeGrpcFrames(frame)[0]).key, "k0");
});

test("the length prefix is big-endian beyond one byte", () => {
  const message = GetRequest.encode({ key: "x".repeat(300) }).finish();
  const frame = encodeGrpcFrame(message);
  assert.equal(frame.readUInt32BE(1), message.length);
  assert.equal(frame[3], (message.length >> 8) & 0xff);
  assert.equal(GetRequest.decode(decodeGrpcFrames(frame)[0]).key, "x".repeat(300));
});

test("an empty message is a 5-byte frame", () => {
  assert.deepEqual([...encodeGrpcFrame(new Uint8Array())], [0, 0, 0, 0, 0]);
});

test("a truncated frame is refused when decoding", () => {
  const frame = encodeGrpcFrame(new Uint8Array([1, 2, 3]));
  assert.throws(() => decodeGrpcFrames(frame.subarray(0, 6)), /truncated/);
});

const sample = `finished in 1.70s, 11730.88 req/s, 527.36KB/s
requests: 20000 total, 20000 started, 20000 done, 19990 succeeded, 10 failed, 3 errored, 1 timeout
status codes: 19990 2xx, 0 3xx, 0 4xx, 10 5xx
traffic: 899.10KB (920680) total, 98.11KB (100460) headers (space savings 96.39%), 234.38KB (240000) data
`;

test("h2load's summary is read field by field", () => {
  assert.deepEqual(parseH2loadOutput(sample), {
    seconds: 1.7,
    total: 20000,
    succeeded: 19990,
    failed: 10,
    errored: 3,
    timeout: 1,
    status2xx: 19990,
    dataBytes: 240000,
  });
  assert.equal(parseH2loadOutput(sample.replace("1.70s", "850.5ms")).seconds, 0.8505);
});

test("h2load output without a summary is an error, not zeros", () => {
  assert.throws(() => parseH2loadOutput("starting benchmark...\n"), /no finished line/);
});

test("h2load's log gives one latency per request", () => {
  assert.deepEqual(
    parseH2loadLog("1795625216102563\t200\t25196\n1795625216102564\t200\t7\n"),
    [25196, 7],
  );
  assert.throws(() => parseH2loadLog("garbage\n"), /unexpected h2load log line/);
});

test("median and nearest-rank percentiles", () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  const sorted = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(percentileSorted(sorted, 50), 50);
  assert.equal(percentileSorted(sorted, 99), 99);
  assert.equal(percentileSorted([5], 99), 5);
});

test("quantiles interpolate between ranks; the interquartile range is the middle half", () => {
  assert.equal(quantile([1, 2, 3, 4, 5], 0.25), 2);
  assert.equal(quantile([4, 1, 3, 2], 0.5), 2.5);
  assert.equal(quantile([1, 2], 0.25), 1.25);
  assert.equal(quantile([7], 0.75), 7);
  assert.deepEqual(interquartile([0.9, 0.7, 0.8, 1.0, 0.6]), { lo: 0.7, hi: 0.9 });
});

test("a goal is met or not only when the whole spread is on one side of it", () => {
  assert.equal(judge({ lo: 0.9, hi: 0.95 }, 0.9), "met", "the goal itself counts as met");
  assert.equal(judge({ lo: 0.8, hi: 0.89 }, 0.9), "NOT MET");
  assert.equal(judge({ lo: 0.88, hi: 0.92 }, 0.9), "within noise");
});

test("targets are judged from the rows of one run, and a missing row is 'not measured'", () => {
  /** A row at `ratio` of the no-op's 20,000 RPS, its interquartile range ± `half`. */
  const row = (
    server: string,
    op: string,
    shape: string,
    sessions: string,
    ratio: number,
    half = 0.01,
  ) => ({
    server,
    op,
    shape,
    sessions,
    rps: ratio * 20_000,
    p50Ms: 1,
    p99Ms: 2,
    rpsRatio: ratio,
    rpsSpread: { lo: ratio - half, hi: ratio + half },
    cpuRatio: ratio + 0.01,
    cpuSpread: { lo: ratio, hi: ratio + 0.02 },
  });
  const rows = [
    row("memory", "Get", "small", "1,000", 0.92), // 0.91–0.93 ≥ 0.9: met
    row("memory", "Set", "small", "1,000", 0.7), // 0.69–0.71 < 0.75: not met
    row("interceptor (session untouched)", "Get", "small", "0", 0.97, 0.02), // 0.95–0.99: noise
    row("redis-hash", "Get", "small", "1,000", 0.84, 0.02), // 0.82–0.86 ≥ 0.8: met
    row("redis-hash", "Get", "large", "1,000", 0.7, 0.02), // 0.68–0.72 / 0.82–0.86
    row("express-session", "Get", "small", "1,000", 0.2, 0.01), // 0.84/0.20 = 4.2, 0.82/0.21..0.86/0.19
    row("memory", "Get", "small", "1M", 0.87), // 0.87/0.92 = 0.95: 0.86/0.93..0.88/0.91
    row("redis-hash", "Set", "small", "1,000", 0.5),
    row("redis-hash wait-replicas 1", "Set", "small", "1,000", 0.275), // 0.55 of 0.5: not met
    row("file", "Set", "small", "1,000", 0.25, 0), // exactly the goal, no spread: met
  ];
  const results = evaluateTargets(rows, new Map([[1_000_000, 301]]), 1_000_000);
  const by = (prefix: string) => results.find((r) => r.target.startsWith(prefix));
  assert.equal(by("memory Get (service)")?.verdict, "met");
  assert.equal(
    by("memory Get (service)")?.measured,
    "0.92 (0.91–0.93); CPU per call 0.93 (0.92–0.94)",
  );
  assert.equal(by("memory Set ≥")?.verdict, "NOT MET");
  assert.equal(by("interceptor (session untouched)")?.verdict, "within noise");
  assert.equal(by("interceptor, handler reads")?.verdict, "not measured");
  assert.equal(by("redis-hash Get ≥ 0.8")?.verdict, "met");
  const vsPeer = by("redis-hash Get ≥ 4 × express-session");
  assert.equal(vsPeer?.verdict, "within noise", "0.82 / 0.21 = 3.90 is under 4");
  assert.match(vsPeer?.measured ?? "", /^4\.20 \(3\.90–4\.53\) \(16,800 \/ 4,000 RPS\)$/);
  assert.equal(by("redis-hash Get, large")?.verdict, "NOT MET", "0.72 / 0.82 = 0.88 < 0.9");
  assert.equal(by("memory Get with 1M")?.verdict, "met", "even 0.86 / 0.93 = 0.92 is ≥ 0.9");
  assert.match(by("memory Get with 1M")?.measured ?? "", /^0\.95 \(0\.92–0\.97\)/);
  assert.equal(by("redis-hash Get with 1M")?.measured, "not measured");
  assert.equal(by("redis Get, one key ≥")?.verdict, "not measured");
  assert.equal(by("redis-hash Set with wait-replicas 1")?.verdict, "NOT MET", "0.55 < 0.6");
  assert.equal(by("file Set (durable)")?.verdict, "met");
  assert.equal(by("memory storage overhead")?.verdict, "NOT MET", "301 B is over 300 B");
  assert.match(targetsText(results), /NOT MET\s+memory Set ≥ 0.75 × no-op\s+0.70 \(0.69–0.71\)/);
  assert.match(targetsText(results), /within noise\s+interceptor \(session untouched\) ≥ 0.97/);
});
