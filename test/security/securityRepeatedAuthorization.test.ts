// Two `authorization` headers on one request, sent as raw HTTP/2 frames (node:http2 will not
// send them): Node's HTTP/2 layer used to keep only the first, so a good token followed by
// a bad one (or the reverse) passed the caller check. Each case gets its own server so that
// its `caller refused` line (one per reason every 10 s) is its own.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Logger } from "../../src/core/Logger.js";
import { startServer } from "../../src/server/startServer.js";
import { FRAME, grpcFrameHeader, RawHttp2Connection } from "../support/rawHttp2.js";

const GOOD = randomBytes(24).toString("hex");
const BAD = randomBytes(24).toString("hex");
const END_STREAM = 0x1;
const dir = mkdtempSync(join(tmpdir(), "sessiond-repeated-auth-"));
const tokensFile = join(dir, "tokens");
writeFileSync(tokensFile, `${GOOD} read,write\n`, { mode: 0o600 });
after(() => rmSync(dir, { recursive: true, force: true }));

interface Outcome {
  /** A response message came back: the call was served. */
  served: boolean;
  /** The answer was one HEADERS frame ending the stream (a status, no message). */
  trailersOnly: boolean;
  refusals: Array<Record<string, unknown>>;
}

/** A health Check (which --auth-health makes need a token) with these authorization values. */
async function checkWith(authorizations: string[]): Promise<Outcome> {
  const refusals: Array<Record<string, unknown>> = [];
  const logger: Logger = {
    info() {},
    warn: (msg, fields) => void (msg === "caller refused" && refusals.push(fields ?? {})),
    error() {},
  };
  const server = await startServer(
    { port: 0, storage: "memory", authTokensFile: tokensFile, authHealth: true },
    { logger },
  );
  const raw = await RawHttp2Connection.open(server.port);
  try {
    const id = raw.openCall("/grpc.health.v1.Health/Check", {
      headers: authorizations.map((value) => ["authorization", `Bearer ${value}`]),
      body: grpcFrameHeader(0),
      end: true,
    });
    await raw.waitFor((f) => f.streamId === id && (f.flags & END_STREAM) !== 0);
    const frames = raw.frames.filter((f) => f.streamId === id);
    return {
      served: frames.some((f) => f.type === FRAME.DATA && f.payload.length > 0),
      trailersOnly:
        frames.length === 1 &&
        frames[0]?.type === FRAME.HEADERS &&
        (frames[0].flags & END_STREAM) !== 0,
      refusals,
    };
  } finally {
    raw.close();
    await server.shutdown(1000);
  }
}

describe("a request with more than one authorization header", () => {
  test("one good token: served (the raw client works)", async () => {
    const outcome = await checkWith([GOOD]);
    assert.deepEqual(outcome, { served: true, trailersOnly: false, refusals: [] });
  });

  for (const [name, pair] of [
    ["good then bad", [GOOD, BAD]],
    ["bad then good", [BAD, GOOD]],
    ["the good one twice", [GOOD, GOOD]],
  ] as const) {
    test(`${name}: UNAUTHENTICATED, never served`, async () => {
      const outcome = await checkWith([...pair]);
      assert.equal(outcome.served, false);
      assert.equal(outcome.trailersOnly, true);
      assert.deepEqual(outcome.refusals, [
        {
          method: "/grpc.health.v1.Health/Check",
          code: "UNAUTHENTICATED",
          reason: "more than one authorization metadata entry",
          refusedSinceLastLine: 0,
        },
      ]);
    });
  }
});
