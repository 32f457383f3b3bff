/**
 * Security round 2, finding 7 (part): a token with only the `write` scope learns nothing it
 * could not read. Increment, which answers the stored value (delta 0 reads a number), needs
 * `read` as well; refusals answered to a caller without `read` (ABORTED, FAILED_PRECONDITION,
 * RESOURCE_EXHAUSTED) keep their code but carry no stored state (the version the session is
 * at, how many keys it has), replayed ones included. A caller with `read` gets the detailed
 * messages as before.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Client, status } from "@grpc/grpc-js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import { type Answer, bearer, callWith, rawClient } from "../support/securityCalls.js";

const RW = randomBytes(24).toString("hex");
const WO = randomBytes(24).toString("hex");
const dir = mkdtempSync(join(tmpdir(), "sessiond-write-only-"));
const storage = new MemoryStorage();
let server: RunningServer;
let client: Client;

before(async () => {
  const tokensFile = join(dir, "tokens");
  writeFileSync(tokensFile, `${RW} read,write\n${WO} write\n`, { mode: 0o600 });
  server = await startServer(
    { port: 0, storage: "memory", authTokensFile: tokensFile, maxKeys: 3 },
    { storage },
  );
  client = rawClient(server.address);
});
after(async () => {
  client.close();
  await server.shutdown();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A session at version 7 holding 3 keys (the limit), one of them a string. */
async function seeded(): Promise<(token: string) => Record<string, string>> {
  const first = await callWith(client, "SetMap", { data: { a: 1, b: 2, s: "text" } }, bearer(RW));
  const id = first.response?.sessionId as string;
  const headers = (token: string) => ({ ...bearer(token), "x-session-id": id });
  for (let i = 0; i < 6; i++) await callWith(client, "Set", { key: "a", value: i }, headers(RW));
  const described = await callWith(client, "Describe", {}, headers(RW));
  assert.equal(described.response?.version, 7n);
  return headers;
}

/** An answer as text (versions are bigints, which JSON.stringify refuses). */
const show = (answer: Answer) =>
  JSON.stringify(answer, (_key, value) => (typeof value === "bigint" ? `${value}n` : value));

/** Nothing of the stored state: no number at all, no kind of value. */
function assertNoState(answer: Answer, code: status): void {
  assert.equal(answer.code, code, show(answer));
  assert.doesNotMatch(answer.details, /\d/, answer.details);
  assert.doesNotMatch(answer.details, /string|number|session is at/, answer.details);
  assert.match(answer.details, /withheld from a caller without the read scope/);
  // Nor a reason: it (and its metadata, the versions and sizes) would tell what is withheld.
  assert.equal(answer.reason, undefined, show(answer));
}

describe("a write-only token", () => {
  test("Increment needs read as well: PERMISSION_DENIED naming it, even with delta 0", async () => {
    const headers = await seeded();
    for (const delta of [0, 1]) {
      const answer = await callWith(client, "Increment", { key: "a", delta }, headers(WO));
      assert.equal(answer.code, status.PERMISSION_DENIED, show(answer));
      assert.match(answer.details, /lacks the "read" scope that .*Increment needs/);
    }
    // Of a key holding a string: refused before anything looks at it, so no "not a number".
    const text = await callWith(client, "Increment", { key: "s", delta: 1 }, headers(WO));
    assert.equal(text.code, status.PERMISSION_DENIED);
    assert.doesNotMatch(text.details, /string|number/);
    // Read and write together still increment, and are answered the value.
    const rw = await callWith(client, "Increment", { key: "a", delta: 0 }, headers(RW));
    assert.equal(rw.code, status.OK, rw.details);
    assert.equal(rw.response?.value, 5);
  });

  test("ABORTED for a version mismatch does not say which version the session is at", async () => {
    const headers = await seeded();
    const request = {
      key: "b",
      value: 9,
      expectedVersion: 1n,
      requestId: `wo-${randomBytes(12).toString("hex")}`,
    };
    assertNoState(await callWith(client, "Set", request, headers(WO)), status.ABORTED);
    // Replayed from its record: still nothing.
    assertNoState(await callWith(client, "Set", request, headers(WO)), status.ABORTED);
    // A reader is told, as before.
    const rw = await callWith(
      client,
      "Set",
      { key: "b", value: 9, expectedVersion: 1n },
      headers(RW),
    );
    assert.equal(rw.code, status.ABORTED);
    assert.match(rw.details, /session is at 7/);
  });

  test("RESOURCE_EXHAUSTED over maxKeys does not say how many keys the session holds", async () => {
    const headers = await seeded();
    assertNoState(
      await callWith(client, "Set", { key: "fourth", value: 1 }, headers(WO)),
      status.RESOURCE_EXHAUSTED,
    );
    const rw = await callWith(client, "Set", { key: "fourth", value: 1 }, headers(RW));
    assert.equal(rw.code, status.RESOURCE_EXHAUSTED);
    assert.match(rw.details, /4 keys/);
  });

  test("a write it may make still works", async () => {
    const headers = await seeded();
    const answer = await callWith(client, "Set", { key: "a", value: "x" }, headers(WO));
    assert.equal(answer.code, status.OK, answer.details);
  });
});
