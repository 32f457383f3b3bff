/**
 * Security round 2, finding 5, replays: a request_id's outcome is answered only to the
 * caller that made the first request. Another token with the same scopes (or another client
 * certificate under mTLS) presenting the same request id and request gets ALREADY_EXISTS
 * and no session id, in the message, the headers, the trailers or a body; the first caller
 * still gets its replay, a Regenerate's new id included after the old session is gone.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type Client, credentials, status } from "@grpc/grpc-js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import { type Answer, bearer, callWith, rawClient } from "../support/securityCalls.js";
import { makeTestPki, pem, type TestPki } from "../support/testPki.js";

/** Nothing of `id` in what a refused caller got back. */
function assertRefusedWithoutId(answer: Answer, id: string): void {
  assert.equal(answer.code, status.ALREADY_EXISTS, JSON.stringify(answer));
  assert.match(answer.details, /request_id was already used for a different request/);
  assert.equal(answer.response, undefined);
  assert.ok(!answer.details.includes(id));
  assert.ok(!answer.metadata.includes(id), answer.metadata);
}

const rid = () => `checkout-${randomBytes(8).toString("hex")}`;
const dir = mkdtempSync(join(tmpdir(), "sessiond-rid-callers-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("request_id replays go to their caller only: tokens", () => {
  const A = randomBytes(24).toString("hex");
  const B = randomBytes(24).toString("hex");
  const storage = new MemoryStorage();
  let server: RunningServer;
  let client: Client;
  before(async () => {
    const tokensFile = join(dir, "tokens");
    writeFileSync(tokensFile, `${A} read,write\n${B} read,write\n`, { mode: 0o600 });
    server = await startServer(
      { port: 0, storage: "memory", authTokensFile: tokensFile },
      { storage },
    );
    client = rawClient(server.address);
  });
  after(async () => {
    client.close();
    await server.shutdown();
    await storage.close();
  });

  test("a Set that created a session: another token gets ALREADY_EXISTS, the same token its replay", async () => {
    const request = { key: "cart", value: "3 items", requestId: rid() };
    const first = await callWith(client, "Set", request, bearer(A));
    assert.equal(first.code, status.OK, first.details);
    const id = first.response?.sessionId as string;
    assert.match(id, /^[0-9a-z]{32}$/);
    assertRefusedWithoutId(await callWith(client, "Set", request, bearer(B)), id);
    const replay = await callWith(client, "Set", request, bearer(A));
    assert.equal(replay.code, status.OK, replay.details);
    assert.equal(replay.response?.sessionId, id);
    assert.equal(replay.response?.version, first.response?.version);
  });

  test("a Regenerate replayed by another token after the old session was destroyed: ALREADY_EXISTS", async () => {
    const created = await callWith(client, "Set", { key: "user", value: "ada" }, bearer(A));
    const old = created.response?.sessionId as string;
    const request = { requestId: rid(), keepOld: false };
    const regenerated = await callWith(client, "Regenerate", request, {
      ...bearer(A),
      "x-session-id": old,
    });
    assert.equal(regenerated.code, status.OK, regenerated.details);
    const fresh = regenerated.response?.sessionId as string;
    assert.notEqual(fresh, old);
    // The old id is gone (keepOld false); its request id still answers its caller only.
    const other = await callWith(client, "Regenerate", request, {
      ...bearer(B),
      "x-session-id": old,
    });
    assertRefusedWithoutId(other, fresh);
    const replay = await callWith(client, "Regenerate", request, {
      ...bearer(A),
      "x-session-id": old,
    });
    assert.equal(replay.code, status.OK, replay.details);
    assert.equal(replay.response?.sessionId, fresh);
  });

  test("a write to an existing session: another token presenting its request id applies nothing", async () => {
    const created = await callWith(client, "Set", { key: "n", value: 1 }, bearer(A));
    const id = created.response?.sessionId as string;
    const request = { key: "n", value: 2, requestId: rid() };
    const headers = (token: string) => ({ ...bearer(token), "x-session-id": id });
    const first = await callWith(client, "Set", request, headers(A));
    assert.equal(first.response?.version, 2n);
    const other = await callWith(client, "Set", request, headers(B));
    assertRefusedWithoutId(other, id);
    const read = await callWith(client, "Describe", {}, headers(A));
    assert.equal(read.response?.version, 2n, "the other caller's attempt applied nothing");
  });
});

describe("request_id replays go to their caller only: mTLS client certificates", () => {
  const storage = new MemoryStorage();
  let pki: TestPki;
  let server: RunningServer;
  const clients: Client[] = [];
  const clientWith = (cert: string, key: string) => {
    const c = rawClient(
      server.address,
      credentials.createSsl(pem(pki.caCert), pem(key), pem(cert)),
      { "grpc.ssl_target_name_override": "localhost" },
    );
    clients.push(c);
    return c;
  };
  before(async () => {
    pki = makeTestPki(mkdtempSync(join(dir, "pki-")));
    // No tokens and no allowed names: every certificate the CA signed is let in, and the
    // certificate alone tells callers apart.
    server = await startServer(
      {
        port: 0,
        storage: "memory",
        tlsCertFile: pki.serverCert,
        tlsKeyFile: pki.serverKey,
        tlsClientCaFile: pki.caCert,
      },
      { storage },
    );
  });
  after(async () => {
    for (const c of clients) c.close();
    await server.shutdown();
    await storage.close();
  });

  test("another certificate gets ALREADY_EXISTS; the same one (on a new connection) its replay", async () => {
    const app1 = clientWith(pki.clientCert, pki.clientKey);
    const intruder = clientWith(pki.intruderCert, pki.intruderKey);
    const request = { key: "cart", value: 1, requestId: rid() };
    const first = await callWith(app1, "Set", request, {});
    assert.equal(first.code, status.OK, first.details);
    const id = first.response?.sessionId as string;
    assertRefusedWithoutId(await callWith(intruder, "Set", request, {}), id);
    const again = clientWith(pki.clientCert, pki.clientKey);
    const replay = await callWith(again, "Set", request, {});
    assert.equal(replay.response?.sessionId, id);
  });
});
