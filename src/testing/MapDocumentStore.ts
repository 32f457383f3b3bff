import type {
  DocumentStore,
  Loaded,
  LoadOptions,
  RecordRef,
  SessionDoc,
  Write,
} from "../core/engine/DocumentStore.js";
import { cloneJson } from "../core/json.js";
import { throwIfCancelled } from "../core/storage/cancellation.js";
import { pruneRecords, type RequestRecord } from "../core/storage/requestRecords.js";
import {
  type CallSignal,
  type Expiry,
  expireAt,
  MAX_REQUEST_RECORDS,
  type ReadOptions,
  type SessionMeta,
  type SessionRecord,
} from "../core/storage/Storage.js";

/** What a name (a session id, or a create's record key) holds. */
interface Entry {
  doc?: SessionDoc;
  records: Record<string, RequestRecord>;
  /** Bumped by every commit to this name: what a revision compares. */
  generation: number;
}

/** The generations a load saw: of the session's name, and of a create record's. */
interface Revision {
  session: number;
  createRecord?: number;
}

/**
 * The smallest complete DocumentStore: sessions and request records in two Maps, a
 * generation per name as the revision. A storage on it is `new SessionEngine(new
 * MapDocumentStore())`; the engine supplies every session rule. It is the README's
 * storage-author example and the engine's own test backend: every call awaits once
 * between load and commit, so concurrent writes really interleave and the engine's
 * start-over path runs. Expired entries go when looked at and on sweep().
 */
export class MapDocumentStore implements DocumentStore<Revision> {
  readonly #sessions = new Map<string, Entry>();
  /** A create's records, by request key (see Idempotency). */
  readonly #creates = new Map<string, Entry>();
  /** Where generations come from: one counter, so a name dropped and written again never repeats one. */
  #generations = 0;

  async load(id: string, options: LoadOptions): Promise<Loaded<Revision>> {
    await tick(options.signal);
    const now = Date.now();
    const entry = this.#entry(this.#sessions, id, now);
    const revision: Revision = { session: entry?.generation ?? 0 };
    let record: RequestRecord | undefined;
    const ref = options.record;
    if (ref !== undefined) {
      const holder = ref.create ? this.#entry(this.#creates, ref.key, now) : entry;
      if (ref.create) revision.createRecord = holder?.generation ?? 0;
      const found = holder?.records[ref.key];
      if (found !== undefined && found.e > now) record = found;
    }
    const doc = entry?.doc;
    return { revision, now, session: doc && { ...doc, data: cloneJson(doc.data) }, record };
  }

  async commit(writes: readonly Write<Revision>[], signal?: CallSignal): Promise<boolean> {
    await tick(signal);
    for (const { id, revision, record } of writes) {
      if ((this.#sessions.get(id)?.generation ?? 0) !== revision.session) return false;
      if (record?.ref.create && revision.createRecord !== undefined) {
        if ((this.#creates.get(record.ref.key)?.generation ?? 0) !== revision.createRecord)
          return false;
      }
    }
    const now = Date.now();
    for (const { id, change, record } of writes) {
      const entry = this.#touched(this.#sessions, id);
      if (change.kind === "put") entry.doc = { ...change.doc, data: cloneJson(change.doc.data) };
      else if (change.kind === "remove") entry.doc = undefined;
      else if (change.kind === "slide" && entry.doc) entry.doc.expireTime = change.expireTime;
      if (record !== undefined) this.#keep(entry, record.ref, record.record, now);
    }
    return true;
  }

  async read(id: string, options: ReadOptions): Promise<SessionRecord | undefined> {
    const meta = await this.slide(id, options);
    const doc = this.#sessions.get(id)?.doc;
    return meta && doc && { ...meta, data: cloneJson(doc.data) };
  }

  async slide(
    id: string,
    options: Expiry & { signal?: CallSignal },
  ): Promise<SessionMeta | undefined> {
    await tick(options.signal);
    const now = Date.now();
    const doc = this.#entry(this.#sessions, id, now)?.doc;
    if (doc === undefined) return undefined;
    doc.expireTime = expireAt(now, doc.createTime, options);
    return { version: doc.version, createTime: doc.createTime, expireTime: doc.expireTime };
  }

  async remove(id: string, signal?: CallSignal): Promise<void> {
    await tick(signal);
    const entry = this.#sessions.get(id);
    if (entry?.doc === undefined) return;
    entry.doc = undefined;
    entry.generation = ++this.#generations;
  }

  /** Drops expired sessions and records (a real backend runs this on a timer). */
  sweep(): void {
    const now = Date.now();
    for (const map of [this.#sessions, this.#creates]) {
      for (const name of [...map.keys()]) this.#entry(map, name, now);
    }
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#sessions.clear();
    this.#creates.clear();
  }

  /** `name`'s entry with what has expired dropped (and itself, when nothing is left). */
  #entry(map: Map<string, Entry>, name: string, now: number): Entry | undefined {
    const entry = map.get(name);
    if (entry === undefined) return undefined;
    if (entry.doc !== undefined && entry.doc.expireTime <= now) {
      entry.doc = undefined;
      entry.generation = ++this.#generations;
    }
    entry.records = pruneRecords(entry.records, now, MAX_REQUEST_RECORDS);
    if (entry.doc === undefined && Object.keys(entry.records).length === 0) {
      map.delete(name);
      return undefined;
    }
    return entry;
  }

  #touched(map: Map<string, Entry>, name: string): Entry {
    let entry = map.get(name);
    if (entry === undefined) {
      entry = { records: {}, generation: 0 };
      map.set(name, entry);
    }
    entry.generation = ++this.#generations;
    return entry;
  }

  #keep(session: Entry, ref: RecordRef, record: RequestRecord, now: number): void {
    const entry = ref.create ? this.#touched(this.#creates, ref.key) : session;
    const records = { ...entry.records };
    // Re-added last: a key written again counts as the newest.
    delete records[ref.key];
    records[ref.key] = record;
    entry.records = pruneRecords(records, now, MAX_REQUEST_RECORDS);
  }
}

/** One turn of the event loop, as a real backend's I/O would take, with its cancellation. */
async function tick(signal: CallSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  throwIfCancelled(signal);
}
