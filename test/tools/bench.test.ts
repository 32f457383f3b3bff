// The benchmark's own parts that can be wrong silently: the gRPC frame encoder (h2load
// sends these bytes verbatim) and the reading of h2load's output.
import assert from "node:assert/strict";
import { test } from "node:test";
import { decodeGrpcFrames, encodeGrpcFrame } from "../../scripts/bench/grpcFrame.js";
import { parseH2loadLog, parseH2loadOutput } from "../../scripts/bench/parseH2load.js";
import { median, percentileSorted } from "../../scripts/bench/stats.js";
import { evaluateTargets, targetsText } from "../../scripts/bench/targets.js";
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

test("targets are judged from the rows of one run, and a missing row is 'not measured'", () => {
  const row = (server: string, op: string, shape: string, sessions: string, rps: number) => ({
    server,
    op,
    shape,
    sessions,
    rps,
    p50Ms: 1,
    p99Ms: 2,
    rpsRatio: rps / 20_000,
    cpuRatio: rps / 20_000 + 0.01,
  });
  const rows = [
    row("memory", "Get", "small", "1,000", 18_000), // 0.90: met
    row("memory", "Set", "small", "1,000", 14_000), // 0.70: not met
    row("redis-hash", "Get", "small", "1,000", 13_000),
    row("redis-hash", "Get", "large", "1,000", 11_000), // 0.85 of small: not met
    row("express-session", "Get", "small", "1,000", 4_000), // 13000/4000 = 3.25: met
    row("memory", "Get", "small", "1M", 17_000), // 0.94 of 1k: met
    row("redis-hash", "Set", "small", "1,000", 10_000),
    row("redis-hash wait-replicas 1", "Set", "small", "1,000", 5_500), // 0.55: not met
  ];
  const results = evaluateTargets(rows, new Map([[1_000_000, 301]]), 1_000_000);
  const by = (prefix: string) => results.find((r) => r.target.startsWith(prefix));
  assert.equal(by("memory Get ≥")?.met, true);
  assert.equal(by("memory Get ≥")?.measured, "0.90 (CPU per call: 0.91)");
  assert.equal(by("memory Set ≥")?.met, false);
  assert.equal(by("redis-hash Get ≥ 3")?.met, true);
  assert.match(by("redis-hash Get ≥ 3")?.measured ?? "", /^3\.25 /);
  assert.equal(by("redis-hash Get, large")?.met, false);
  assert.equal(by("memory Get with 1M")?.met, true);
  assert.equal(by("redis-hash Get with 1M")?.measured, "not measured");
  assert.equal(by("redis Get")?.met, undefined);
  assert.equal(by("redis-hash Set with wait-replicas 1")?.met, false, "0.55 is under 0.6");
  assert.match(by("redis-hash Set with wait-replicas 1")?.measured ?? "", /^0\.55 /);
  assert.equal(by("memory storage overhead")?.met, false, "301 B is over 300 B");
  assert.match(targetsText(results), /NOT MET\s+memory Set ≥ 0.75 × no-op\s+0.70/);
});
