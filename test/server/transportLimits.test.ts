// The transport limits (README: Limits, Transport limits), each against a real server on
// 127.0.0.1: an abusive client made of raw sockets, raw HTTP/2 frames or node:http2 is cut,
// while a grpc-js client on another connection is still served. Limits are set small so
// that the cut comes soon; the timeouts below are hang guards, never speed requirements.
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http2 from "node:http2";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect as tlsConnect } from "node:tls";
import { credentials, status } from "@grpc/grpc-js";
import { ConfigError } from "../../src/core/ConfigError.js";
import { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import type { ServerConfig } from "../../src/server/config/ServerConfig.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import { peerAddress } from "../../src/server/transport/ConnectionSlots.js";
import { grpcServerOptions } from "../../src/server/transport/grpcServerOptions.js";
import { connectionsWithinFdLimit } from "../../src/server/transport/openFileLimit.js";
import { startUnderFdLimit } from "../support/fdLimitedServer.js";
import { FRAME, grpcFrameHeader, RawHttp2Connection, SETTING } from "../support/rawHttp2.js";
import { sessionClient, unary } from "../support/serverClients.js";
import { makeTestPki, pem } from "../support/testPki.js";

const HANG_GUARD_MS = 30_000;
const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR, NGHTTP2_REFUSED_STREAM } = http2.constants;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "sessiond-transport-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function withServer(
  config: Partial<ServerConfig>,
  body: (server: RunningServer) => Promise<void>,
): Promise<void> {
  const server = await startServer({ port: 0, storage: "memory", ...config });
  try {
    await body(server);
  } finally {
    await server.shutdown(2000);
  }
}

/** A grpc-js client on its own connection: a write and a read, both answered correctly. */
async function bystanderServed(client: SessionServiceClient, n = 0): Promise<void> {
  const { response } = await unary(client, client.set, { key: "k", value: n });
  const got = await unary(client, client.get, { key: "k" }, response.sessionId);
  assert.deepEqual(got.response, { value: n, found: true });
}

/** bystanderServed over and over until stop(), which rethrows the first failure. */
function keepServing(client: SessionServiceClient): { stop(): Promise<void> } {
  let on = true;
  const loop = (async () => {
    for (let i = 0; on; i++) await bystanderServed(client, i);
  })();
  loop.catch(() => {}); // reported by stop(), not as an unhandled rejection
  return {
    stop() {
      on = false;
      return loop;
    },
  };
}

/** bystanderServed, retried while the server refuses the connection (all slots taken). */
async function servedOnceASlotFrees(client: SessionServiceClient): Promise<void> {
  for (;;) {
    try {
      return await bystanderServed(client);
    } catch (err) {
      if ((err as { code?: number }).code !== status.UNAVAILABLE) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function withinGuard<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`hang guard: ${what}`)), HANG_GUARD_MS);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/**
 * A TCP connection that sends nothing; `read: false` also never reads (not even a FIN).
 * `from` is the source address: Linux routes all of 127/8 to lo, so 127.0.0.x are peers.
 */
async function bareSocket(
  port: number,
  { read = true, from }: { read?: boolean; from?: string } = {},
): Promise<Socket> {
  const socket = connect({ port, host: "127.0.0.1", localAddress: from });
  socket.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("error", reject);
  });
  if (read) socket.resume();
  return socket;
}

const closed = (socket: Socket) =>
  socket.destroyed ? Promise.resolve() : new Promise<void>((r) => socket.once("close", () => r()));

interface RawOutcome {
  grpcStatus?: string;
  grpcMessage?: string;
  rstCode: number;
}

/** A gRPC call over node:http2 that sends `body` (whole, partial or none) and maybe no end. */
function http2Call(
  h2: http2.ClientHttp2Session,
  path: string,
  { body, end = false, id }: { body?: Buffer; end?: boolean; id?: string } = {},
): { stream: http2.ClientHttp2Stream; done: Promise<RawOutcome> } {
  const stream = h2.request(
    {
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...(id !== undefined && { "x-session-id": id }),
    },
    { endStream: false },
  );
  stream.on("error", () => {});
  let headers: http2.IncomingHttpHeaders = {};
  stream.on("response", (h) => {
    headers = h;
  });
  stream.on("trailers", (t) => {
    headers = { ...headers, ...t };
  });
  if (body !== undefined) stream.write(body);
  if (end) stream.end();
  const done = new Promise<RawOutcome>((resolve) =>
    stream.on("close", () =>
      resolve({
        grpcStatus: headers["grpc-status"] as string | undefined,
        grpcMessage:
          headers["grpc-message"] === undefined
            ? undefined
            : decodeURIComponent(String(headers["grpc-message"])),
        rstCode: stream.rstCode ?? -1,
      }),
    ),
  );
  return { stream, done };
}

async function http2Connect(
  address: string,
  settings: http2.Settings = {},
): Promise<http2.ClientHttp2Session> {
  const h2 = http2.connect(`http://${address}`, { settings });
  h2.on("error", () => {});
  await new Promise((resolve, reject) => h2.once("connect", resolve).once("error", reject));
  return h2;
}

describe("transport limits", () => {
  test("concurrent streams: the limit is advertised; a client flooding past it is refused and cut", async () => {
    await withServer({ maxConcurrentStreams: 4, requestReceiveTimeoutMs: 60_000 }, async (s) => {
      const client = sessionClient(s.address);
      try {
        await bystanderServed(client);
        // Before acknowledging the SETTINGS, and after: both ways the flood must not stand.
        for (const ackSettings of [false, true]) {
          const raw = await RawHttp2Connection.open(s.port, { ackSettings });
          assert.equal(raw.serverSettings().get(SETTING.MAX_CONCURRENT_STREAMS), 4);
          for (let i = 0; i < 2000; i++) raw.openCall("/sessiond.v1.SessionService/Get");
          await withinGuard(raw.closed, "the flooding connection was not closed");
          const goaway = raw.goaway();
          assert.ok(goaway && goaway.errorCode !== NGHTTP2_NO_ERROR, JSON.stringify(goaway));
          const refused = [...raw.resets().values()].filter((c) => c === NGHTTP2_REFUSED_STREAM);
          if (!ackSettings) assert.ok(refused.length > 0, "no stream was refused");
          assert.equal(
            raw.frames.filter((f) => f.type === FRAME.HEADERS).length,
            0,
            "a flooded stream got an answer",
          );
          await bystanderServed(client, 1);
        }
      } finally {
        client.close();
      }
    });
  });

  test("connections: past the limit, silent ones make room for new ones (oldest first); open ones keep being served", async () => {
    await withServer({ maxConnections: 5, connectionIdleTimeoutMs: 60_000 }, async (s) => {
      const client = sessionClient(s.address);
      try {
        await bystanderServed(client);
        const sockets = await Promise.all(Array.from({ length: 40 }, () => bareSocket(s.port)));
        // The bystander holds one of the 5; each socket past the 4 others closes the oldest
        // silent one, so the first 36 are closed and the last 4 stay.
        let closedCount = 0;
        await withinGuard(
          Promise.all(
            sockets.map((socket) =>
              Promise.race([
                closed(socket).then(() => closedCount++),
                new Promise((r) => setTimeout(r, 2000)),
              ]),
            ),
          ),
          "connections",
        );
        assert.equal(closedCount, 36);
        assert.deepEqual(
          sockets.map((socket) => socket.destroyed),
          sockets.map((_, i) => i < 36),
        );
        await bystanderServed(client, 1);
        for (const socket of sockets) socket.destroy();
      } finally {
        client.close();
      }
    });
  });

  test("connections: under a 256-descriptor limit, 300 idle connections leave every call served", async () => {
    const server = await startUnderFdLimit(256, [
      "--storage",
      "file",
      "--file-dir",
      join(dir, "fd"),
      "--connection-idle-timeout",
      "1s",
    ]);
    const client = sessionClient(server.address);
    const sockets: Socket[] = [];
    try {
      await bystanderServed(client);
      const lowered = await server.waitForLog((l) => l.msg.startsWith("max connections lowered"));
      assert.equal(lowered.maxConnections, connectionsWithinFdLimit(1000, 256));
      // The old connection, kept busy (so never idle), is served all along: the file
      // storage still has descriptors.
      const bystander = keepServing(client);
      try {
        for (let i = 0; i < 300; i++) sockets.push(await bareSocket(server.port, { read: false }));
        for (let i = 0; i < 20; i++) await bystanderServed(client, i);
      } finally {
        await bystander.stop();
      }
      // Once the idle ones are cut, a new connection is served too.
      const fresh = sessionClient(server.address);
      try {
        await withinGuard(servedOnceASlotFrees(fresh), "a new connection was never served");
      } finally {
        fresh.close();
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      client.close();
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  });

  test("idle timeout: connections with no call are closed, the busy one is not", async () => {
    await withServer({ connectionIdleTimeoutMs: 300 }, async (s) => {
      const client = sessionClient(s.address);
      const bystander = keepServing(client);
      try {
        const raw = await RawHttp2Connection.open(s.port);
        const bare = await bareSocket(s.port);
        await withinGuard(Promise.all([raw.closed, closed(bare)]), "idle connections stayed");
        assert.equal(raw.goaway()?.errorCode, NGHTTP2_NO_ERROR);
      } finally {
        await bystander.stop();
        client.close();
      }
    });
  });

  test("idle timeout: a connection whose calls have all ended is closed once idle", async () => {
    await withServer({ connectionIdleTimeoutMs: 300 }, async (s) => {
      const session = http2.connect(`http://127.0.0.1:${s.port}`);
      session.on("error", () => {});
      try {
        const goaway = new Promise<{ code: number; debug: string }>((resolve) =>
          session.once("goaway", (code, _last, data) => resolve({ code, debug: String(data) })),
        );
        // Three calls, one after another, each read to its end: none may keep the connection.
        for (let i = 0; i < 3; i++) {
          const stream = session.request({
            ":method": "POST",
            ":path": "/sessiond.v1.SessionService/Get",
            "content-type": "application/grpc",
            te: "trailers",
          });
          const key = Buffer.from([0x0a, 0x01, 0x6b]); // key: "k"
          stream.end(Buffer.concat([grpcFrameHeader(key.length), key]));
          const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) =>
            stream.once("trailers", resolve),
          );
          stream.resume();
          await new Promise((resolve) => stream.once("close", resolve));
          assert.equal((await trailers)["grpc-status"], String(status.OK));
        }
        assert.deepEqual(await withinGuard(goaway, "the connection never went idle"), {
          code: NGHTTP2_NO_ERROR,
          debug: "idle",
        });
      } finally {
        session.destroy();
      }
    });
  });

  test("idle timeout: a client that reads nothing does not keep its connection (and slot)", async () => {
    await withServer({ connectionIdleTimeoutMs: 300, maxConnections: 3 }, async (s) => {
      const sockets = await Promise.all(
        Array.from({ length: 3 }, () => bareSocket(s.port, { read: false })),
      );
      const client = sessionClient(s.address);
      try {
        // Every slot is held: one more connection closes the oldest silent one to take its
        // place, and goes itself once idle.
        const extra = await bareSocket(s.port);
        await withinGuard(closed(extra), "a connection past the limit was kept");
        // A new client gets a slot only once the server has really let go of a silent
        // connection (not just sent its FIN, which this client never reads).
        await withinGuard(servedOnceASlotFrees(client), "no slot was ever freed");
      } finally {
        client.close();
        for (const socket of sockets) socket.destroy();
      }
    });
  });

  test("keepalive: a connection that stops answering pings is closed, one that answers stays", async () => {
    await withServer(
      { keepaliveTimeMs: 300, keepaliveTimeoutMs: 300, connectionIdleTimeoutMs: 60_000 },
      async (s) => {
        const client = sessionClient(s.address);
        try {
          const silent = await RawHttp2Connection.open(s.port, { answerPings: false });
          const answering = await RawHttp2Connection.open(s.port);
          await withinGuard(silent.closed, "the silent connection stayed");
          assert.ok(
            silent.frames.some((f) => f.type === FRAME.PING),
            "no PING was sent",
          );
          assert.ok(
            answering.frames.some((f) => f.type === FRAME.PING),
            "no PING was sent",
          );
          assert.equal(answering.socket.destroyed, false);
          await bystanderServed(client);
          answering.close();
        } finally {
          client.close();
        }
      },
    );
  });

  test("max connection age: GOAWAY, then after the grace a held connection is closed; calls go on", async () => {
    await withServer(
      { maxConnectionAgeMs: 500, maxConnectionAgeGraceMs: 500, requestReceiveTimeoutMs: 60_000 },
      async (s) => {
        const client = sessionClient(s.address);
        const bystander = keepServing(client);
        try {
          const raw = await RawHttp2Connection.open(s.port);
          raw.openCall("/sessiond.v1.SessionService/Get"); // held open: never ends
          await withinGuard(raw.closed, "the aged connection stayed");
          assert.deepEqual(raw.goaway(), { errorCode: NGHTTP2_NO_ERROR, debug: "max_age" });
        } finally {
          await bystander.stop();
          client.close();
        }
      },
    );
  });

  test("request receive timeout: header-only and half-sent requests end with RESOURCE_EXHAUSTED", async () => {
    await withServer({ requestReceiveTimeoutMs: 500 }, async (s) => {
      const client = sessionClient(s.address);
      const h2 = await http2Connect(s.address);
      try {
        const headerOnly = Array.from({ length: 50 }, () =>
          http2Call(h2, "/sessiond.v1.SessionService/Get"),
        );
        // A SetMap announcing a 4 MiB message and sending a quarter of it.
        const partial = Buffer.concat([grpcFrameHeader(4 * 2 ** 20 - 1024), Buffer.alloc(2 ** 20)]);
        const halfSent = http2Call(h2, "/sessiond.v1.SessionService/SetMap", { body: partial });
        await bystanderServed(client);
        const outcomes = await withinGuard(
          Promise.all([...headerOnly, halfSent].map((call) => call.done)),
          "held requests were never ended",
        );
        for (const outcome of outcomes) {
          assert.equal(outcome.grpcStatus, "8", JSON.stringify(outcome));
          assert.match(outcome.grpcMessage ?? "", /SESSIOND_REQUEST_RECEIVE_TIMEOUT/);
          assert.equal(outcome.rstCode, NGHTTP2_NO_ERROR);
        }
        await bystanderServed(client, 1);
      } finally {
        h2.destroy();
        client.close();
      }
    });
  });

  test("request receive timeout: a reflection stream (a streaming request) may stay open", async () => {
    await withServer({ requestReceiveTimeoutMs: 300 }, async (s) => {
      const h2 = await http2Connect(s.address);
      try {
        const call = http2Call(h2, "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo");
        await new Promise((r) => setTimeout(r, 900));
        // ServerReflectionRequest { list_services: "" } is field 7, an empty string.
        const answered = new Promise<Buffer>((resolve) => call.stream.once("data", resolve));
        call.stream.write(Buffer.concat([grpcFrameHeader(2), Buffer.from([0x3a, 0x00])]));
        const answer = await withinGuard(answered, "reflection did not answer");
        assert.ok(answer.toString("latin1").includes("sessiond.v1.SessionService"));
        call.stream.end();
        assert.equal((await call.done).grpcStatus, "0");
      } finally {
        h2.destroy();
      }
    });
  });

  test("outbound bytes: a client that never takes its responses is reset and disconnected", async () => {
    await withServer({ maxConnectionOutboundBytes: 2 ** 20 }, async (s) => {
      const client = sessionClient(s.address);
      const h2 = await http2Connect(s.address, { initialWindowSize: 0 });
      try {
        // About 200 KiB per GetData response.
        const data = Object.fromEntries(
          Array.from({ length: 4 }, (_, i) => [`k${i}`, "x".repeat(50_000)]),
        );
        const { response } = await unary(client, client.setMap, { data });
        const id = response.sessionId;
        const empty = grpcFrameHeader(0);
        const unread = Array.from({ length: 30 }, () =>
          http2Call(h2, "/sessiond.v1.SessionService/GetData", { body: empty, end: true, id }),
        );
        const closedSession = new Promise<void>((r) => h2.once("close", () => r()));
        const outcomes = await withinGuard(
          Promise.all(unread.map((call) => call.done)),
          "unread responses were held",
        );
        const calmed = outcomes.filter((o) => o.rstCode === NGHTTP2_ENHANCE_YOUR_CALM);
        assert.ok(calmed.length > 0, JSON.stringify(outcomes.slice(0, 3)));
        await withinGuard(closedSession, "the connection stayed open");
        const got = await unary(client, client.getData, {}, id);
        assert.deepEqual(got.response.data, data);
      } finally {
        h2.destroy();
        client.close();
      }
    });
  });
});

/** A raw connection whose health Watch is open and answered: it has made a call. */
async function watching(
  port: number,
  headers: Array<[string, string]> = [],
): Promise<RawHttp2Connection> {
  const raw = await RawHttp2Connection.open(port);
  const id = raw.openCall("/grpc.health.v1.Health/Watch", {
    body: grpcFrameHeader(0),
    end: true,
    headers,
  });
  await raw.waitFor((f) => f.streamId === id && f.type === FRAME.DATA);
  return raw;
}

describe("connection slots and the handshake deadline", () => {
  test("per peer: one address holding idle sockets past its share (default 100) locks nobody else out", async () => {
    await withServer({ maxConnections: 150, connectionIdleTimeoutMs: 60_000 }, async (s) => {
      const sockets: Socket[] = [];
      try {
        for (let i = 0; i < 160; i++) sockets.push(await bareSocket(s.port, { from: "127.0.0.2" }));
        // Before: all 150 slots taken by 127.0.0.2 and a call from elsewhere failed at once.
        await withinGuard(
          (async () => {
            while (sockets.filter((socket) => socket.destroyed).length < 60) {
              await new Promise((r) => setTimeout(r, 20));
            }
          })(),
          "no socket past the share was closed",
        );
        assert.ok(sockets.filter((socket) => !socket.destroyed).length <= 100);
        const client = sessionClient(s.address);
        try {
          await bystanderServed(client);
        } finally {
          client.close();
        }
        const other = await watching(s.port);
        other.close();
      } finally {
        for (const socket of sockets) socket.destroy();
      }
    });
  });

  test("per peer: past an address's share, its oldest silent connection makes room; if none is silent, the new one is closed", async () => {
    await withServer(
      { maxConnections: 10, maxConnectionsPerPeer: 3, connectionIdleTimeoutMs: 60_000 },
      async (s) => {
        const client = sessionClient(s.address);
        const held: RawHttp2Connection[] = [];
        try {
          const silent = [];
          for (let i = 0; i < 3; i++) silent.push(await bareSocket(s.port, { from: "127.0.0.3" }));
          const newest = await bareSocket(s.port, { from: "127.0.0.3" });
          await withinGuard(closed(silent[0] as Socket), "the oldest silent socket stayed");
          assert.deepEqual(
            [...silent, newest].map((socket) => socket.destroyed),
            [true, false, false, false],
          );
          for (const socket of [...silent, newest]) socket.destroy();
          // Three connections that made a call hold 127.0.0.1's share (with the bystander's).
          await bystanderServed(client);
          for (let i = 0; i < 2; i++) held.push(await watching(s.port));
          const refused = await bareSocket(s.port);
          await withinGuard(closed(refused), "a connection past the share was kept");
          await bystanderServed(client, 1);
          for (const raw of held) assert.equal(raw.socket.destroyed, false);
        } finally {
          for (const raw of held) raw.close();
          client.close();
        }
      },
    );
  });

  test("at the cap: connections that never made a call make room, oldest first; when all have, a newcomer is closed", async () => {
    await withServer(
      {
        maxConnections: 4,
        maxConnectionsPerPeer: 4,
        handshakeTimeoutMs: 60_000,
        connectionIdleTimeoutMs: 60_000,
      },
      async (s) => {
        const silent: Socket[] = [];
        const held: RawHttp2Connection[] = [];
        const client = sessionClient(s.address);
        try {
          for (let i = 0; i < 4; i++) silent.push(await bareSocket(s.port, { from: "127.0.0.2" }));
          // Before: every slot held, this call failed at once with UNAVAILABLE.
          await bystanderServed(client);
          await withinGuard(closed(silent[0] as Socket), "the oldest silent socket stayed");
          for (let i = 0; i < 3; i++) {
            held.push(await watching(s.port));
            await withinGuard(closed(silent[i + 1] as Socket), `silent socket ${i + 1} stayed`);
          }
          // Every slot now carries calls: a newcomer is the one closed.
          const newcomer = await bareSocket(s.port, { from: "127.0.0.4" });
          await withinGuard(closed(newcomer), "a connection past the cap was kept");
          await bystanderServed(client, 1);
          for (const raw of held) assert.equal(raw.socket.destroyed, false);
        } finally {
          for (const raw of held) raw.close();
          for (const socket of silent) socket.destroy();
          client.close();
        }
      },
    );
  });

  test("handshake deadline (plaintext): no preface, half a preface, or a preface without SETTINGS: closed", async () => {
    await withServer(
      { handshakeTimeoutMs: 500, connectionIdleTimeoutMs: 60_000, maxConnectionsPerPeer: 50 },
      async (s) => {
        const client = sessionClient(s.address);
        const bystander = keepServing(client);
        const silent = await bareSocket(s.port);
        const half = await bareSocket(s.port);
        half.write("PRI * HTTP/2.0\r\n");
        const noSettings = await bareSocket(s.port);
        noSettings.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        const prefaced = await RawHttp2Connection.open(s.port);
        const started = Date.now();
        try {
          // Before: held for the idle timeout (5 minutes by default).
          await withinGuard(
            Promise.all([closed(silent), closed(half), closed(noSettings)]),
            "connections without a preface stayed",
          );
          assert.ok(Date.now() - started >= 400, "closed before the deadline");
          await new Promise((r) => setTimeout(r, 500));
          assert.equal(prefaced.socket.destroyed, false, "a prefaced connection was closed");
          assert.equal(prefaced.goaway(), undefined);
        } finally {
          prefaced.close();
          await bystander.stop();
          client.close();
        }
      },
    );
  });

  test("handshake deadline (TLS): a handshake never finished, or finished without a preface: closed", async () => {
    const pki = makeTestPki(await mkdtemp(join(dir, "pki-")));
    await withServer(
      {
        handshakeTimeoutMs: 500,
        connectionIdleTimeoutMs: 60_000,
        tlsCertFile: pki.serverCert,
        tlsKeyFile: pki.serverKey,
      },
      async (s) => {
        const client = new SessionServiceClient(s.address, credentials.createSsl(pem(pki.caCert)));
        const bystander = keepServing(client);
        const silent = await bareSocket(s.port);
        // A TLS record header announcing a ClientHello that never comes.
        const partial = await bareSocket(s.port);
        partial.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]));
        const handshaken = tlsConnect({
          port: s.port,
          host: "127.0.0.1",
          ca: pem(pki.caCert),
          ALPNProtocols: ["h2"],
        });
        handshaken.on("error", () => {});
        await new Promise((resolve) => handshaken.once("secureConnect", resolve));
        handshaken.resume();
        try {
          // Before: the first two were held 120 s (Node's TLS handshake timeout), the third
          // for the idle timeout.
          await withinGuard(
            Promise.all([closed(silent), closed(partial), closed(handshaken as unknown as Socket)]),
            "connections without a handshake or preface stayed",
          );
        } finally {
          handshaken.destroy();
          await bystander.stop();
          client.close();
        }
      },
    );
  });

  test("at the cap with tokens: connections whose calls never showed a token make room for one that does", async () => {
    const token = `${"b".repeat(16)}${Date.now()}`;
    const tokensFile = join(dir, "tokens-cap");
    await writeFile(tokensFile, `${token} read\n`, { mode: 0o600 });
    await withServer(
      {
        authTokensFile: tokensFile,
        maxConnections: 3,
        handshakeTimeoutMs: 60_000,
        connectionIdleTimeoutMs: 60_000,
      },
      async (s) => {
        const watchers: RawHttp2Connection[] = [];
        const callers: RawHttp2Connection[] = [];
        try {
          for (let i = 0; i < 3; i++) watchers.push(await watching(s.port));
          for (let i = 0; i < 2; i++) {
            // Before: every slot held by a Watch with no token, this connection was closed.
            const caller = await RawHttp2Connection.open(s.port);
            callers.push(caller);
            const get = caller.openCall("/sessiond.v1.SessionService/Get", {
              body: Buffer.concat([grpcFrameHeader(3), Buffer.from([0x0a, 0x01, 0x6b])]),
              end: true,
              headers: [["authorization", `Bearer ${token}`]],
            });
            await caller.waitFor((f) => f.streamId === get && (f.flags & 0x1) !== 0);
            await withinGuard(watchers[i]?.closed as Promise<void>, `watcher ${i} stayed`);
          }
          assert.equal(watchers[2]?.socket.destroyed, false);
          for (const caller of callers) assert.equal(caller.socket.destroyed, false);
        } finally {
          for (const raw of [...watchers, ...callers]) raw.close();
        }
      },
    );
  });

  test("idle timeout with tokens: a health Watch without a token does not keep its connection", async () => {
    const token = `${"a".repeat(16)}${Date.now()}`;
    const tokensFile = join(dir, "tokens");
    await writeFile(tokensFile, `${token} read\n`, { mode: 0o600 });
    await withServer(
      {
        authTokensFile: tokensFile,
        connectionIdleTimeoutMs: 1000,
        maxConnectionAgeGraceMs: 500,
      },
      async (s) => {
        const auth: Array<[string, string]> = [["authorization", `Bearer ${token}`]];
        // Its connection has made a call with the token: its Watch keeps it.
        const bystander = await RawHttp2Connection.open(s.port);
        const get = bystander.openCall("/sessiond.v1.SessionService/Get", {
          body: Buffer.concat([grpcFrameHeader(3), Buffer.from([0x0a, 0x01, 0x6b])]),
          end: true,
          headers: auth,
        });
        const watch = bystander.openCall("/grpc.health.v1.Health/Watch", {
          body: grpcFrameHeader(0),
          end: true,
        });
        await bystander.waitFor((f) => f.streamId === watch && f.type === FRAME.DATA);
        await bystander.waitFor((f) => f.streamId === get && (f.flags & 0x1) !== 0);
        const abuser = await watching(s.port);
        try {
          // Before: its Watch kept it out of the idle timeout for ever.
          await withinGuard(abuser.closed, "the unauthenticated Watch kept its connection");
          assert.deepEqual(abuser.goaway(), { errorCode: NGHTTP2_NO_ERROR, debug: "idle" });
          await new Promise((r) => setTimeout(r, 1000));
          assert.equal(
            bystander.socket.destroyed,
            false,
            "the authenticated Watch lost its connection",
          );
          assert.equal(bystander.goaway(), undefined);
        } finally {
          abuser.close();
          bystander.close();
        }
      },
    );
  });
});

describe("transport settings", () => {
  test("defaults are safe, and grpc-js gets the limits it enforces itself", () => {
    const { config } = parseConfig([], {});
    assert.equal(config.maxConcurrentStreams, 100);
    assert.equal(config.maxConnections, 1000);
    assert.equal(config.maxConnectionsPerPeer, "auto"); // 100, or maxConnections if lower
    assert.equal(config.handshakeTimeoutMs, 5000);
    assert.equal(config.connectionIdleTimeoutMs, 5 * 60_000);
    assert.equal(config.keepaliveTimeMs, 2 * 3_600_000);
    assert.equal(config.keepaliveTimeoutMs, 20_000);
    assert.equal(config.maxConnectionAgeMs, undefined);
    assert.equal(config.maxConnectionAgeGraceMs, 30_000);
    assert.equal(config.requestReceiveTimeoutMs, 10_000);
    assert.equal(config.maxConnectionOutboundBytes, 16 * 2 ** 20);
    assert.deepEqual(grpcServerOptions(config), {
      "grpc.max_concurrent_streams": 100,
      "grpc.keepalive_time_ms": 2 * 3_600_000,
      "grpc.keepalive_timeout_ms": 20_000,
      "grpc-node.max_session_memory": 17,
    });
  });

  test("each is a flag and a variable, checked at start", () => {
    const { config } = parseConfig(["--max-concurrent-streams", "8", "--max-connection-age=1h"], {
      SESSIOND_REQUEST_RECEIVE_TIMEOUT: "2s",
      SESSIOND_MAX_CONNECTIONS: "50",
      SESSIOND_MAX_CONNECTIONS_PER_PEER: "10",
      SESSIOND_HANDSHAKE_TIMEOUT: "2s",
    });
    assert.equal(config.maxConnectionsPerPeer, 10);
    assert.equal(config.handshakeTimeoutMs, 2000);
    assert.equal(config.maxConcurrentStreams, 8);
    assert.equal(config.maxConnectionAgeMs, 3_600_000);
    assert.equal(config.requestReceiveTimeoutMs, 2000);
    assert.equal(config.maxConnections, 50);
    const bad: Array<[string[], RegExp]> = [
      [["--max-concurrent-streams", "0"], /SESSIOND_MAX_CONCURRENT_STREAMS/],
      [["--keepalive-time", "25d"], /SESSIOND_KEEPALIVE_TIME\b.*at most 24d/],
      [["--connection-idle-timeout", "0"], /SESSIOND_CONNECTION_IDLE_TIMEOUT/],
      [["--request-receive-timeout", "soon"], /SESSIOND_REQUEST_RECEIVE_TIMEOUT/],
      [["--max-connection-outbound-bytes", "1000"], /at least 65536/],
      [["--max-connections", "-1"], /SESSIOND_MAX_CONNECTIONS/],
      [["--handshake-timeout", "0"], /SESSIOND_HANDSHAKE_TIMEOUT/],
      [["--max-connections-per-peer", "0"], /SESSIOND_MAX_CONNECTIONS_PER_PEER/],
      [
        ["--max-connections", "50", "--max-connections-per-peer", "51"],
        /SESSIOND_MAX_CONNECTIONS_PER_PEER \(--max-connections-per-peer\): expected at most SESSIOND_MAX_CONNECTIONS \(50\)/,
      ],
    ];
    for (const [argv, pattern] of bad) {
      assert.throws(
        () => parseConfig(argv, {}),
        (err) => err instanceof ConfigError && pattern.test(err.message),
        argv.join(" "),
      );
    }
  });

  test("a peer is its address; an IPv4-mapped IPv6 address is the IPv4 address", () => {
    assert.equal(peerAddress("::ffff:10.1.2.3"), "10.1.2.3");
    assert.equal(peerAddress("10.1.2.3"), "10.1.2.3");
    assert.equal(peerAddress("::1"), "::1");
    assert.equal(peerAddress("::ffff:a01:203"), "::ffff:a01:203");
    assert.equal(peerAddress("2001:db8::ffff:1"), "2001:db8::ffff:1");
  });

  test("connections leave 128 descriptors free, or half of a small limit", () => {
    assert.equal(connectionsWithinFdLimit(1000, undefined), 1000);
    assert.equal(connectionsWithinFdLimit(1000, 1_048_576), 1000);
    assert.equal(connectionsWithinFdLimit(1000, 1024), 896);
    assert.equal(connectionsWithinFdLimit(1000, 256), 128);
    assert.equal(connectionsWithinFdLimit(1000, 100), 50);
    assert.equal(connectionsWithinFdLimit(10, 256), 10);
  });
});
