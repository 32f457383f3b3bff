import type { Socket } from "node:net";

/**
 * A client address's share of the open connections when none is configured (or the whole
 * cap, if lower): a tenth of the default cap, so that one address cannot take them all, and
 * still far more than a proxy needs, since HTTP/2 carries its calls many to a connection.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_PEER = 100;

export interface ConnectionSlotsOptions {
  maxConnections: number;
  maxPerPeer: number;
  /** From accept to the client's first SETTINGS (TLS handshake and HTTP/2 preface included). */
  handshakeTimeoutMs: number;
  /** A connection refused, closed to make room, or closed for its handshake. */
  onCut(kind: "refused" | "peer" | "room" | "handshake", peer: string): void;
}

interface Slot {
  socket: Socket;
  peer: string;
  /** Cleared once the client's SETTINGS arrive. */
  deadline: NodeJS.Timeout | undefined;
}

/**
 * Who holds the connection slots. A connection must finish its handshake and preface within
 * the deadline; one address holds at most its share; and when a share or the whole cap is
 * full, the oldest connection that never made a call (with tokens, one that never showed a
 * valid token) is closed to make room for the new one; only when every connection has made
 * one is the new one closed. Idle sockets that
 * never speak thus cannot lock other clients out for the idle timeout, and a client that
 * just connected keeps its place against newer ones.
 */
export class ConnectionSlots {
  readonly #options: ConnectionSlotsOptions;
  /** By connection key, in order of acceptance (oldest first). */
  readonly #slots = new Map<string, Slot>();
  /** The slots that never made a call, in the same order: what makes room, found quickly. */
  readonly #unused = new Map<string, Slot>();
  readonly #perPeer = new Map<string, number>();

  constructor(options: ConnectionSlotsOptions) {
    this.#options = options;
  }

  /** A socket just accepted: takes a slot for it (making room if needed), or destroys it. */
  admit(key: string, socket: Socket): boolean {
    const peer = peerAddress(socket.remoteAddress);
    const { maxConnections, maxPerPeer, onCut } = this.#options;
    if ((this.#perPeer.get(peer) ?? 0) >= maxPerPeer && !this.#makeRoom(peer)) {
      socket.destroy();
      onCut("peer", peer);
      return false;
    }
    if (this.#slots.size >= maxConnections && !this.#makeRoom(undefined)) {
      socket.destroy();
      onCut("refused", peer);
      return false;
    }
    const slot: Slot = { socket, peer, deadline: undefined };
    slot.deadline = setTimeout(() => {
      this.#release(key, socket);
      socket.destroy();
      onCut("handshake", peer);
    }, this.#options.handshakeTimeoutMs).unref();
    this.#slots.set(key, slot);
    this.#unused.set(key, slot);
    this.#perPeer.set(peer, (this.#perPeer.get(peer) ?? 0) + 1);
    socket.once("close", () => this.#release(key, socket));
    return true;
  }

  /** The client's SETTINGS arrived: handshake and preface are done. */
  prefaced(key: string): void {
    const slot = this.#slots.get(key);
    if (slot === undefined) return;
    clearTimeout(slot.deadline);
    slot.deadline = undefined;
  }

  /**
   * A call was opened (with tokens: one passed the caller check): the connection is no
   * longer one to close to make room.
   */
  activated(key: string): void {
    this.#unused.delete(key);
  }

  /** Closes the oldest connection (of `peer`, or of anyone) that never made a call. */
  #makeRoom(peer: string | undefined): boolean {
    for (const [key, slot] of this.#unused) {
      if (peer !== undefined && slot.peer !== peer) continue;
      // Released now, not on 'close': the newcomer takes the slot at once.
      this.#release(key, slot.socket);
      slot.socket.destroy();
      this.#options.onCut("room", slot.peer);
      return true;
    }
    return false;
  }

  /** Frees the slot of `socket` (once: a later socket may reuse its addresses and ports). */
  #release(key: string, socket: Socket): void {
    const slot = this.#slots.get(key);
    if (slot?.socket !== socket) return;
    clearTimeout(slot.deadline);
    this.#slots.delete(key);
    this.#unused.delete(key);
    const left = (this.#perPeer.get(slot.peer) ?? 1) - 1;
    if (left === 0) this.#perPeer.delete(slot.peer);
    else this.#perPeer.set(slot.peer, left);
  }
}

/** The client's address, an IPv4-mapped IPv6 one as the IPv4 address it is. */
export function peerAddress(remoteAddress: string | undefined): string {
  const address = remoteAddress ?? "unknown";
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
