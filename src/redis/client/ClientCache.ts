/**
 * The local copy of what this instance read from Redis (server-assisted client-side
 * caching), keyed by Redis key, then by the field read (a hash field, or a key of a kv
 * document). Values are the stored JSON text, or null for a key the session lacks.
 *
 * Coherence comes from elsewhere (NodeTracking: Redis' CLIENT TRACKING invalidations and a
 * barrier before each hit); this class only keeps the rules that make a stored value safe
 * to keep:
 *
 * - an entry belongs to the tracker (one per Redis node connection) and the tracking epoch
 *   under which it was read, and is used only while that tracker is in that epoch;
 * - a read stores its result only if nothing invalidated its key while it was in flight
 *   (an invalidation can overtake the reply it concerns: they come on two connections);
 * - the bytes held stay under `maxBytes`, least recently used entries going first.
 */

/** What the cache needs of a node's tracking (see NodeTracking). */
export interface CacheTracker {
  /** Bumped whenever tracking is lost or re-established: older entries are not trusted. */
  readonly epoch: number;
  /** True while invalidations of every key read on this node are known to arrive. */
  readonly ready: boolean;
}

interface Entry {
  tracker: CacheTracker;
  epoch: number;
  fields: Map<string, string | null>;
  bytes: number;
}

/** A read in flight: it may store its result only if `dirty` stayed false. */
export interface CacheTicket {
  readonly key: string;
  readonly tracker: CacheTracker;
  readonly epoch: number;
  readonly generation: number;
  dirty: boolean;
}

/**
 * What an entry costs in heap, roughly: strings at 2 bytes a char, plus the entry, its
 * fields Map and the slots of both Maps (measured on Node 20: with 1M distinct sessions of
 * one small key each, the heap the cache holds after a GC is 0.6–1.0× its count; the test
 * checks it stays under 1.25×).
 */
const ENTRY_OVERHEAD = 480;
const FIELD_OVERHEAD = 96;

export interface ClientCacheStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  drops: number;
}

export class ClientCache {
  readonly maxBytes: number;
  /** Insertion order is recency order: a hit moves its entry to the end. */
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Set<CacheTicket>>();
  #bytes = 0;
  #oldest: MapIterator<[string, Entry]> = this.#entries.entries();
  /** Bumped by dropAll: a read begun before a drop stores nothing. */
  #generation = 0;
  #hits = 0;
  #misses = 0;
  #drops = 0;

  constructor(maxBytes: number) {
    this.maxBytes = maxBytes;
  }

  /** The cached value of `field` of `key`, if read under `tracker`'s current epoch. */
  get(key: string, field: string, tracker: CacheTracker): string | null | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined) {
      this.#misses++;
      return undefined;
    }
    if (entry.tracker !== tracker || entry.epoch !== tracker.epoch || !tracker.ready) {
      this.#remove(key, entry);
      this.#misses++;
      return undefined;
    }
    const value = entry.fields.get(field);
    if (value === undefined) {
      this.#misses++;
      return undefined;
    }
    // Most recently used: to the end of the Map's order.
    this.#entries.delete(key);
    this.#entries.set(key, entry);
    this.#hits++;
    return value;
  }

  /** Like get, without counting or moving the entry (the second look of one hit). */
  peek(key: string, field: string, tracker: CacheTracker): string | null | undefined {
    const entry = this.#entries.get(key);
    if (entry === undefined || entry.tracker !== tracker || entry.epoch !== tracker.epoch) {
      return undefined;
    }
    return tracker.ready ? entry.fields.get(field) : undefined;
  }

  /** Before sending a read whose result may be stored. */
  begin(key: string, tracker: CacheTracker): CacheTicket {
    const ticket: CacheTicket = {
      key,
      tracker,
      epoch: tracker.epoch,
      generation: this.#generation,
      dirty: !tracker.ready,
    };
    let set = this.#inFlight.get(key);
    if (set === undefined) {
      set = new Set();
      this.#inFlight.set(key, set);
    }
    set.add(ticket);
    return ticket;
  }

  /** After the read: stores `value` for `field` when nothing made it doubtful meanwhile. */
  end(ticket: CacheTicket, field: string, value: string | null | undefined): void {
    const set = this.#inFlight.get(ticket.key);
    if (set !== undefined) {
      set.delete(ticket);
      if (set.size === 0) this.#inFlight.delete(ticket.key);
    }
    if (
      value === undefined ||
      ticket.dirty ||
      ticket.generation !== this.#generation ||
      ticket.epoch !== ticket.tracker.epoch ||
      !ticket.tracker.ready
    ) {
      return;
    }
    const cost = FIELD_OVERHEAD + 2 * (field.length + (value?.length ?? 0));
    if (cost + ENTRY_OVERHEAD + 2 * ticket.key.length > this.maxBytes) return;
    let entry = this.#entries.get(ticket.key);
    if (entry !== undefined && (entry.tracker !== ticket.tracker || entry.epoch !== ticket.epoch)) {
      this.#remove(ticket.key, entry);
      entry = undefined;
    }
    if (entry === undefined) {
      entry = {
        tracker: ticket.tracker,
        epoch: ticket.epoch,
        fields: new Map(),
        bytes: ENTRY_OVERHEAD + 2 * ticket.key.length,
      };
      this.#bytes += entry.bytes;
    } else {
      this.#entries.delete(ticket.key);
      const old = entry.fields.get(field);
      if (old !== undefined) {
        const oldCost = FIELD_OVERHEAD + 2 * (field.length + (old?.length ?? 0));
        entry.bytes -= oldCost;
        this.#bytes -= oldCost;
      }
    }
    entry.fields.set(field, value);
    entry.bytes += cost;
    this.#bytes += cost;
    this.#entries.set(ticket.key, entry);
    this.#evict();
  }

  /** `key` changed (an invalidation, or a write through this instance): forget it. */
  invalidate(key: string): void {
    const entry = this.#entries.get(key);
    if (entry !== undefined) this.#remove(key, entry);
    const set = this.#inFlight.get(key);
    if (set !== undefined) for (const ticket of set) ticket.dirty = true;
  }

  /** Forgets everything, reads in flight included (tracking lost, fail-over, doubt). */
  dropAll(): void {
    this.#generation++;
    if (this.#entries.size > 0) this.#drops++;
    this.#entries.clear();
    this.#oldest = this.#entries.entries();
    this.#bytes = 0;
    for (const set of this.#inFlight.values()) for (const ticket of set) ticket.dirty = true;
  }

  stats(): ClientCacheStats {
    return {
      entries: this.#entries.size,
      bytes: this.#bytes,
      hits: this.#hits,
      misses: this.#misses,
      drops: this.#drops,
    };
  }

  #remove(key: string, entry: Entry): void {
    this.#entries.delete(key);
    this.#bytes -= entry.bytes;
  }

  #evict(): void {
    // One iterator kept across evictions: every entry before it was evicted or moved to the
    // end, so it always stands on the least recently used one. Starting a new iteration
    // each time would step over the deleted slots at the front of the Map every time.
    while (this.#bytes > this.maxBytes) {
      let next = this.#oldest.next();
      if (next.done) {
        this.#oldest = this.#entries.entries();
        next = this.#oldest.next();
        if (next.done) return;
      }
      const [key, entry] = next.value;
      this.#remove(key, entry);
    }
  }
}
