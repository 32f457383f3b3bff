import {
  constants,
  type Http2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from "node:http2";
import type { Socket } from "node:net";
import {
  type Server,
  type ServerInterceptingCallInterface,
  type ServerInterceptor,
  status,
} from "@grpc/grpc-js";
import type { Logger } from "../../core/Logger.js";
import { asInterceptingCall, PassThroughCall } from "../../grpc/PassThroughCall.js";
import { ConnectionSlots, DEFAULT_MAX_CONNECTIONS_PER_PEER } from "./ConnectionSlots.js";
import { grpcHttp2Servers } from "./grpcHttp2Servers.js";
import { connectionsWithinFdLimit, openFileLimit } from "./openFileLimit.js";

const { NGHTTP2_ENHANCE_YOUR_CALM, NGHTTP2_NO_ERROR } = constants;
/** GOAWAY's "every stream you may have sent is still taken": the first of two phases. */
const ANY_STREAM = 2 ** 31 - 1;

export interface TransportGuardOptions {
  maxConnections: number;
  /** One client address's share of maxConnections (default: DEFAULT_MAX_CONNECTIONS_PER_PEER). */
  maxConnectionsPerPeer?: number;
  /** From accept to the client's first SETTINGS: TLS handshake and HTTP/2 preface. */
  handshakeTimeoutMs: number;
  connectionIdleTimeoutMs: number;
  /**
   * Callers must authenticate (tokens): a connection's open calls keep it from the idle
   * timeout, and from being closed to make room at the cap, only once one of its calls has
   * passed the caller check (markAuthenticated).
   */
  idleUnlessAuthenticated?: boolean;
  maxConnectionAgeMs?: number;
  /** After a GOAWAY (age or idle), how long the calls still running may take. */
  maxConnectionAgeGraceMs: number;
  requestReceiveTimeoutMs: number;
  maxConnectionOutboundBytes: number;
  /** Methods whose request is a stream (bidi reflection): no receive deadline for them. */
  streamingRequestPaths: ReadonlySet<string>;
  logger: Logger;
  /** Overrides the open-file limit read from the OS (tests). */
  fdLimit?: number;
}

/** A connection's addresses, as a call knows them (grpc-js's ConnectionInfo). */
interface Addresses {
  remoteAddress?: string | undefined;
  remotePort?: number | undefined;
  localAddress?: string | undefined;
  localPort?: number | undefined;
}

interface Connection {
  key: string;
  /** The addresses the key is made of, to find it from a call's without building the key. */
  addresses: Addresses;
  session: ServerHttp2Session;
  /** The TCP socket under the session (which only hands out a proxy that cannot destroy). */
  socket: Socket | undefined;
  /** Its open streams, each with its receive timer (none for a streaming request). */
  streams: Map<ServerHttp2Stream, NodeJS.Timeout | undefined>;
  /** A call on it passed the caller check (see idleUnlessAuthenticated). */
  authenticated: boolean;
  /** Runs while no stream that counts is open (see #busy). */
  idleTimer: NodeJS.Timeout;
  ageTimer: NodeJS.Timeout | undefined;
  /** GOAWAY sent; once `settled` the session goes as soon as its last stream ends. */
  retiring: boolean;
  settled: boolean;
  cut: boolean;
  /** When a sweep first found the session destroyed and the socket still open. */
  destroyedSince?: number;
}

/** A stream's connection, set on the stream itself: no WeakMap entry per stream. */
const CONNECTION = Symbol("sessiond.connection");
type GuardedStream = ServerHttp2Stream & { [CONNECTION]?: Connection };

/** A warning per kind at most this often, so an abuser cannot flood the log. */
const WARN_EVERY_MS = 10_000;
/**
 * How long a client may take to answer the PING after a GOAWAY, and how long a destroyed
 * session's socket may linger. Node ends the socket (FIN) and waits for the client to
 * close its side: one that reads nothing would hold the file descriptor for ever.
 */
const CLOSE_BACKSTOP_MS = 1000;

/**
 * The transport limits grpc-js lacks or gets wrong: how many connections may be open (in
 * all and from one address: ConnectionSlots), how long one may take to start, how long one
 * may sit with no call (with tokens, calls on a connection that never showed a valid one do
 * not count), how old one may grow, how long a request may take to arrive, and how many
 * response bytes a connection may leave unread; and a drain that ends connections the same
 * safe way.
 *
 * It never calls session.close(). On Node 20, a session closed that way refuses a stream
 * still arriving with an RST_STREAM sent from inside nghttp2's frame callback, which frees
 * the stream that nghttp2 goes on reading (a heap use-after-free, seen under valgrind, that
 * aborts the process). Connections are retired instead: GOAWAY naming no last stream, a
 * PING to know the client has read it, then destroy() once the calls still running end.
 *
 * Build it before the Server (its interceptor must be the first one), attach() it once the
 * Server is bound, retireAll() at shutdown.
 */
export class TransportGuard {
  readonly #options: TransportGuardOptions;
  /** By connectionKey(): the interceptor only knows a call's addresses. */
  readonly #connections = new Map<string, Connection>();
  /**
   * The same connections by remote port: what a call's lookup uses (#find), so that no key
   * string is built per call.
   */
  readonly #byRemotePort = new Map<number | undefined, Connection[]>();
  readonly #bySession = new WeakMap<ServerHttp2Session, Connection>();
  /** Sockets accepted whose session is not made yet, by connectionKey(). */
  readonly #sockets = new Map<string, Socket>();
  readonly #lastWarned = new Map<string, { at: number; suppressed: number }>();
  #http2Servers: Http2Server[] = [];
  #slots: ConnectionSlots | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  /** Called whenever a connection goes, while retireAll() waits. */
  #onGone: (() => void) | undefined;

  constructor(options: TransportGuardOptions) {
    this.#options = options;
  }

  /** The most connections accepted: the setting, lowered to fit the open-file limit. */
  get maxConnections(): number {
    const { maxConnections, fdLimit } = this.#options;
    return connectionsWithinFdLimit(maxConnections, fdLimit ?? openFileLimit());
  }

  /** One client address's share: the setting, or the default, within maxConnections. */
  get maxConnectionsPerPeer(): number {
    const share = this.#options.maxConnectionsPerPeer ?? DEFAULT_MAX_CONNECTIONS_PER_PEER;
    return Math.min(share, this.maxConnections);
  }

  /**
   * The caller check passed a call on this connection (its addresses, as a call knows them):
   * from now on its open calls keep it from the idle timeout, and it keeps its slot.
   */
  markAuthenticated(info: Addresses): void {
    const connection = this.#find(info);
    if (connection === undefined || connection.authenticated) return;
    connection.authenticated = true;
    this.#slots?.activated(connection.key);
  }

  /**
   * Innermost interceptor (first in the Server's list): next(message) serializes and writes
   * to the HTTP/2 stream synchronously, so the check right after it sees the bytes just
   * queued; a connection already cut gets nothing more serialized.
   */
  readonly interceptor: ServerInterceptor = (_method, call) =>
    asInterceptingCall(new GuardedCall(call, this.#outbound));

  /** What GuardedCall asks of the guard: one object, no closure per call. */
  readonly #outbound: Outbound = {
    find: (info) => this.#find(info),
    check: (connection) => this.#checkOutbound(connection),
  };

  /** The connection with these addresses (a call's), if it is still open. */
  #find(info: Addresses): Connection | undefined {
    const candidates = this.#byRemotePort.get(info.remotePort);
    if (candidates === undefined) return undefined;
    for (const connection of candidates) {
      const a = connection.addresses;
      if (
        a.remoteAddress === info.remoteAddress &&
        a.localPort === info.localPort &&
        a.localAddress === info.localAddress
      ) {
        return connection;
      }
    }
    return undefined;
  }

  attach(server: Server): void {
    const maxConnections = this.maxConnections;
    if (maxConnections < this.#options.maxConnections) {
      this.#options.logger.warn("max connections lowered to fit the open-file limit", {
        configured: this.#options.maxConnections,
        maxConnections,
        openFileLimit: this.#options.fdLimit ?? openFileLimit(),
        setting: "SESSIOND_MAX_CONNECTIONS",
      });
    }
    const maxConnectionsPerPeer = this.maxConnectionsPerPeer;
    const { handshakeTimeoutMs } = this.#options;
    // Not net.Server's maxConnections: it closes the newcomer, never a connection that
    // holds a slot without using it.
    const slots = new ConnectionSlots({
      maxConnections,
      maxPerPeer: maxConnectionsPerPeer,
      handshakeTimeoutMs,
      onCut: (kind, peer) => this.#onCut(kind, peer, { maxConnections, maxConnectionsPerPeer }),
    });
    this.#slots = slots;
    this.#http2Servers = grpcHttp2Servers(server);
    for (const http2Server of this.#http2Servers) {
      // Prepended: node:http2's own listener makes the session (and emits 'session') at once.
      http2Server.prependListener("connection", (socket: Socket) => {
        const key = connectionKey(
          socket.remoteAddress,
          socket.remotePort,
          socket.localAddress,
          socket.localPort,
        );
        if (!slots.admit(key, socket)) return;
        this.#sockets.set(key, socket);
        socket.once("close", () => this.#sockets.delete(key));
      });
      http2Server.on("session", (session) => {
        const connection = this.#connectionOf(session);
        session.once("remoteSettings", () => slots.prefaced(connection.key));
      });
      http2Server.on("stream", this.#onStreamListener);
    }
    this.#sweeper = setInterval(() => this.#sweep(), CLOSE_BACKSTOP_MS).unref();
  }

  /**
   * Shutdown: closes the listeners at once (synchronously), retires every connection and
   * resolves when all are gone, or once `graceMs` is over and the rest are destroyed.
   */
  retireAll(graceMs: number): Promise<void> {
    for (const http2Server of this.#http2Servers) http2Server.close();
    for (const connection of this.#connections.values()) {
      this.#retire(connection, "shutdown", graceMs);
    }
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#options.logger.warn("grace period over, cancelling the calls still running", {
          graceMs,
        });
        for (const { session } of this.#connections.values()) session.destroy();
        done();
      }, graceMs);
      const done = () => {
        clearTimeout(timer);
        this.#onGone = undefined;
        resolve();
      };
      this.#onGone = () => {
        if (this.#connections.size === 0) done();
      };
      this.#onGone();
    });
  }

  /** After shutdown: stops the sweeps and destroys the sockets still open. */
  close(): void {
    clearInterval(this.#sweeper);
    for (const { socket } of this.#connections.values()) socket?.destroy();
  }

  #sweep(): void {
    const now = Date.now();
    for (const connection of this.#connections.values()) {
      const { session, socket } = connection;
      if (!session.destroyed || !socket || socket.destroyed) continue;
      connection.destroyedSince ??= now;
      if (now - connection.destroyedSince >= CLOSE_BACKSTOP_MS) socket.destroy();
    }
  }

  readonly #onStreamListener = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders) =>
    this.#onStream(stream, headers);

  /**
   * Per stream: its entry in the connection's streams (the receive timer, if any) and one
   * 'close' listener shared by all streams, so that a call costs no closure here.
   */
  #onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    const connection = this.#connectionOf(stream.session as ServerHttp2Session);
    // With tokens, a connection keeps its slot against newcomers only once authenticated.
    if (!this.#options.idleUnlessAuthenticated) this.#slots?.activated(connection.key);
    let timer: NodeJS.Timeout | undefined;
    if (!this.#options.streamingRequestPaths.has(String(headers[":path"]))) {
      timer = setTimeout(
        this.#onReceiveTimeoutListener,
        this.#options.requestReceiveTimeoutMs,
        stream,
      );
      timer.unref();
    }
    connection.streams.set(stream, timer);
    // Found again at 'close', when stream.session is already gone.
    (stream as GuardedStream)[CONNECTION] = connection;
    stream.on("close", this.#onStreamClose);
  }

  readonly #onReceiveTimeoutListener = (stream: ServerHttp2Stream) =>
    this.#onReceiveTimeout(stream);

  /** 'close' of every stream (`this`: the stream). */
  readonly #onStreamClose = (() => {
    const guard = this;
    return function (this: ServerHttp2Stream): void {
      guard.#onStreamClosed(this);
    };
  })();

  #onStreamClosed(stream: ServerHttp2Stream): void {
    const connection = (stream as GuardedStream)[CONNECTION];
    if (connection === undefined) return;
    clearTimeout(connection.streams.get(stream));
    if (!connection.streams.delete(stream)) return;
    if (connection.settled) {
      if (connection.streams.size === 0) setImmediate(() => connection.session.destroy());
    } else if (!this.#busy(connection)) {
      connection.idleTimer.refresh();
    }
  }

  /**
   * Whether the connection carries calls that need it. With callers authenticating, the
   * calls of a connection none of whose calls ever passed the check do not count: health is
   * open, and a Watch per connection would otherwise keep unauthenticated connections (and
   * their slots) for ever.
   */
  #busy(connection: Connection): boolean {
    if (connection.streams.size === 0) return false;
    return connection.authenticated || !this.#options.idleUnlessAuthenticated;
  }

  /** The record of a connection, made on its first sight (the 'session' event, normally). */
  #connectionOf(session: ServerHttp2Session): Connection {
    const known = this.#bySession.get(session);
    if (known) return known;
    const { remoteAddress, remotePort, localAddress, localPort } = session.socket;
    const key = connectionKey(remoteAddress, remotePort, localAddress, localPort);
    const addresses: Addresses = { remoteAddress, remotePort, localAddress, localPort };
    const socket = this.#sockets.get(key);
    this.#sockets.delete(key);
    const { connectionIdleTimeoutMs, maxConnectionAgeMs, maxConnectionAgeGraceMs } = this.#options;
    const connection: Connection = {
      key,
      addresses,
      session,
      socket,
      streams: new Map(),
      authenticated: false,
      idleTimer: setTimeout(() => {
        if (!this.#busy(connection)) this.#retire(connection, "idle", maxConnectionAgeGraceMs);
      }, connectionIdleTimeoutMs).unref(),
      // ±10% so that connections made together do not all reconnect together.
      ageTimer:
        maxConnectionAgeMs === undefined
          ? undefined
          : setTimeout(
              () => this.#retire(connection, "max_age", maxConnectionAgeGraceMs),
              maxConnectionAgeMs * (0.9 + Math.random() * 0.2),
            ).unref(),
      retiring: false,
      settled: false,
      cut: false,
    };
    this.#bySession.set(session, connection);
    const replaced = this.#connections.get(key);
    if (replaced !== undefined) this.#unlistPort(replaced);
    this.#connections.set(key, connection);
    const samePort = this.#byRemotePort.get(remotePort);
    if (samePort === undefined) this.#byRemotePort.set(remotePort, [connection]);
    else samePort.push(connection);
    session.once("close", () => {
      clearTimeout(connection.idleTimer);
      clearTimeout(connection.ageTimer);
      if (this.#connections.get(key) === connection) {
        this.#connections.delete(key);
        this.#unlistPort(connection);
      }
      this.#onGone?.();
    });
    return connection;
  }

  #unlistPort(connection: Connection): void {
    const port = connection.addresses.remotePort;
    const samePort = this.#byRemotePort.get(port);
    if (samePort === undefined) return;
    const at = samePort.indexOf(connection);
    if (at >= 0) samePort.splice(at, 1);
    if (samePort.length === 0) this.#byRemotePort.delete(port);
  }

  /**
   * Asks the client to go (GOAWAY, NO_ERROR) while still taking the streams it may have sent
   * meanwhile; once it has answered a PING (or failed to in CLOSE_BACKSTOP_MS) the session
   * is destroyed as soon as no call runs, and after `graceMs` whatever runs.
   */
  #retire(connection: Connection, reason: string, graceMs: number): void {
    const { session } = connection;
    if (connection.retiring || session.destroyed) return;
    connection.retiring = true;
    const settle = () => {
      if (connection.settled) return;
      connection.settled = true;
      if (connection.streams.size === 0) setImmediate(() => session.destroy());
    };
    try {
      session.goaway(NGHTTP2_NO_ERROR, ANY_STREAM, Buffer.from(reason));
      if (!session.ping(settle)) settle();
    } catch {
      settle();
    }
    setTimeout(settle, CLOSE_BACKSTOP_MS).unref();
    setTimeout(() => session.destroy(), graceMs).unref();
  }

  /**
   * Ends a call whose request has not arrived in full: a trailers-only RESOURCE_EXHAUSTED
   * naming the limit, then RST_STREAM(NO_ERROR) so that the stream stops counting against
   * the connection even if the client never finishes sending. (From a timer: never inside
   * nghttp2's frame processing.)
   */
  #onReceiveTimeout(stream: ServerHttp2Stream): void {
    if (stream.closed || stream.destroyed || stream.state.remoteClose) return;
    const { requestReceiveTimeoutMs } = this.#options;
    this.#warn("receive", "call cut: request not received in time", {
      requestReceiveTimeoutMs,
      setting: "SESSIOND_REQUEST_RECEIVE_TIMEOUT",
    });
    if (!stream.headersSent) {
      const message = `request not received in full within ${requestReceiveTimeoutMs} ms (SESSIOND_REQUEST_RECEIVE_TIMEOUT)`;
      stream.respond(
        {
          ":status": 200,
          "content-type": "application/grpc",
          "grpc-status": String(status.RESOURCE_EXHAUSTED),
          "grpc-message": encodeURIComponent(message),
        },
        { endStream: true },
      );
    }
    stream.close(NGHTTP2_NO_ERROR);
  }

  /**
   * Bytes written to a connection's streams that the client has not let through (its
   * flow-control window is shut, or it does not read). Past the limit every stream is reset
   * with ENHANCE_YOUR_CALM, which a gRPC client reports as RESOURCE_EXHAUSTED, and the
   * session is destroyed: the queued responses are freed at once.
   */
  #checkOutbound(connection: Connection): void {
    if (connection.cut) return;
    let unread = 0;
    for (const stream of connection.streams.keys()) unread += stream.writableLength;
    const limit = this.#options.maxConnectionOutboundBytes;
    if (unread <= limit) return;
    connection.cut = true;
    this.#warn("outbound", "connection cut: the client leaves responses unread", {
      unreadBytes: unread,
      maxConnectionOutboundBytes: limit,
      setting: "SESSIOND_MAX_CONNECTION_OUTBOUND_BYTES",
    });
    // Not now: a handler can complete in the microtasks of a DATA callback, inside
    // nghttp2's frame processing, where an RST_STREAM must not be sent (see above).
    setImmediate(() => {
      for (const stream of connection.streams.keys()) {
        stream.on("error", () => {}); // ERR_HTTP2_STREAM_ERROR: expected, and ours
        stream.close(NGHTTP2_ENHANCE_YOUR_CALM);
      }
      connection.session.destroy(undefined, NGHTTP2_ENHANCE_YOUR_CALM);
    });
  }

  /** `limits` as computed once at attach(): maxConnections reads the open-file limit. */
  #onCut(
    kind: "refused" | "peer" | "room" | "handshake",
    peer: string,
    limits: { maxConnections: number; maxConnectionsPerPeer: number },
  ): void {
    const { handshakeTimeoutMs } = this.#options;
    const { maxConnections, maxConnectionsPerPeer } = limits;
    const [msg, fields]: [string, Record<string, unknown>] = {
      refused: [
        "connection refused: too many open connections",
        { maxConnections, setting: "SESSIOND_MAX_CONNECTIONS" },
      ],
      peer: [
        "connection refused: too many connections from one address",
        { peer, maxConnectionsPerPeer, setting: "SESSIOND_MAX_CONNECTIONS_PER_PEER" },
      ],
      room: [
        "connection closed to make room: it never made a call",
        {
          peer,
          maxConnections,
          maxConnectionsPerPeer,
          setting: "SESSIOND_MAX_CONNECTIONS, SESSIOND_MAX_CONNECTIONS_PER_PEER",
        },
      ],
      handshake: [
        "connection closed: no TLS handshake and HTTP/2 preface in time",
        { peer, handshakeTimeoutMs, setting: "SESSIOND_HANDSHAKE_TIMEOUT" },
      ],
    }[kind] as [string, Record<string, unknown>];
    this.#warn(kind, msg, fields);
  }

  #warn(kind: string, msg: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    const last = this.#lastWarned.get(kind);
    if (last && now - last.at < WARN_EVERY_MS) {
      last.suppressed++;
      return;
    }
    this.#options.logger.warn(msg, {
      ...fields,
      ...(last?.suppressed ? { suppressedSinceLast: last.suppressed } : {}),
    });
    this.#lastWarned.set(kind, { at: now, suppressed: 0 });
  }
}

function connectionKey(
  remoteAddress: string | undefined,
  remotePort: number | undefined,
  localAddress: string | undefined,
  localPort: number | undefined,
): string {
  return `${remoteAddress}:${remotePort}>${localAddress}:${localPort}`;
}

/** What a GuardedCall needs of its guard. */
interface Outbound {
  find(info: Addresses): Connection | undefined;
  check(connection: Connection): void;
}

/**
 * The guard's interceptor on one call: next(message) serializes and writes to the HTTP/2
 * stream synchronously, so the check right after it sees the bytes just queued; a
 * connection already cut gets nothing more serialized.
 */
class GuardedCall extends PassThroughCall {
  readonly #outbound: Outbound;

  constructor(next: ServerInterceptingCallInterface, outbound: Outbound) {
    super(next);
    this.#outbound = outbound;
  }

  override sendMessage(message: unknown, callback: () => void): void {
    const connection = this.#outbound.find(this.next.getConnectionInfo());
    if (connection?.cut) return; // its streams are being reset
    this.next.sendMessage(message, callback);
    if (connection) this.#outbound.check(connection);
  }
}
