import type {
  DocumentStore,
  Loaded,
  LoadOptions,
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

/** What a name holds: `s:<id>` a session and its records, `c:<key>` a create's records. */
interface Entry {
  doc?: SessionDoc | undefined;
  records: Record<string, RequestRecord>;
  /** Changed by every commit to the name: what a revision compares. */
  generation: number;
}

/** The generation of each name a load looked at (0: nothing there). */
type Revision = Record<string, number>;

/**
 * The smallest complete DocumentStore: one Map, a generation per name as the revision.
 * `new SessionEngine(new MapDocumentStore())` is a Storage that passes the conformance suite
 * and the differential test; the engine supplies every session rule. Each call waits one
 * turn of the event loop, as real I/O would, so concurrent writes interleave and the
 * engine's start-over path runs. Expired entries go when looked at, and on sweep().
 */
export class MapDocumentStore implements DocumentStore<Revision> {
  readonly #names = new Map<string, Entry>();
  /** One counter for all names, so a name dropped and written again never repeats one. */
  #generations = 0;

  async load(id: string, options: LoadOptions): Promise<Loaded<Revision>> {
    await tick(options.signal);
    const now = Date.now();
    const names = [`s:${id}`];
    const ref = options.record;
    if (ref?.create) names.push(`c:${ref.key}`);
    const revision: Revision = {};
    for (const name of names) revision[name] = this.#entry(name, now)?.generation ?? 0;
    const doc = this.#names.get(`s:${id}`)?.doc;
    const found = ref && this.#names.get(names.at(-1) as string)?.records[ref.key];
    return {
      revision,
      now,
      session: doc && { ...doc, data: cloneJson(doc.data) },
      record: found !== undefined && found.e > now ? found : undefined,
    };
  }

  async commit(writes: readonly Write<Revision>[], signal?: CallSignal): Promise<boolean> {
    await tick(signal);
    for (const { revision } of writes) {
      for (const [name, seen] of Object.entries(revision)) {
        if ((this.#names.get(name)?.generation ?? 0) !== seen) return false;
      }
    }
    const now = Date.now();
    for (const { id, change, record } of writes) {
      const entry = this.#changed(`s:${id}`);
      if (change.kind === "put") entry.doc = { ...change.doc, data: cloneJson(change.doc.data) };
      if (change.kind === "remove") entry.doc = undefined;
      if (change.kind === "slide" && entry.doc) entry.doc.expireTime = change.expireTime;
      if (record === undefined) continue;
      const holder = record.ref.create ? this.#changed(`c:${record.ref.key}`) : entry;
      // Re-added last: a key written again counts as the newest.
      const { [record.ref.key]: _, ...others } = holder.records;
      others[record.ref.key] = record.record;
      holder.records = pruneRecords(others, now, MAX_REQUEST_RECORDS);
    }
    return true;
  }

  async read(id: string, options: ReadOptions): Promise<SessionRecord | undefined> {
    const meta = await this.slide(id, options);
    const doc = this.#names.get(`s:${id}`)?.doc;
    return meta && doc && { ...meta, data: cloneJson(doc.data) };
  }

  async slide(
    id: string,
    options: Expiry & { signal?: CallSignal | undefined },
  ): Promise<SessionMeta | undefined> {
    await tick(options.signal);
    const now = Date.now();
    const doc = this.#entry(`s:${id}`, now)?.doc;
    if (doc === undefined) return undefined;
    doc.expireTime = expireAt(now, doc.createTime, options);
    return { version: doc.version, createTime: doc.createTime, expireTime: doc.expireTime };
  }

  async remove(id: string, signal?: CallSignal): Promise<void> {
    await tick(signal);
    if (this.#names.get(`s:${id}`)?.doc !== undefined) this.#changed(`s:${id}`).doc = undefined;
  }

  /** Drops what has expired (a real backend runs this on a timer). */
  sweep(): void {
    const now = Date.now();
    for (const name of [...this.#names.keys()]) this.#entry(name, now);
  }

  async ping(): Promise<void> {}

  async close(): Promise<void> {
    this.#names.clear();
  }

  /** `name`'s entry with what has expired dropped, or undefined when nothing is left. */
  #entry(name: string, now: number): Entry | undefined {
    const entry = this.#names.get(name);
    if (entry?.doc !== undefined && entry.doc.expireTime <= now) {
      entry.doc = undefined;
      entry.generation = ++this.#generations;
    }
    if (entry !== undefined) entry.records = pruneRecords(entry.records, now, MAX_REQUEST_RECORDS);
    if (entry?.doc !== undefined || Object.keys(entry?.records ?? {}).length > 0) return entry;
    this.#names.delete(name);
    return undefined;
  }

  /** `name`'s entry (made if missing) with a new generation: a commit is changing it. */
  #changed(name: string): Entry {
    const entry = this.#names.get(name) ?? { records: {}, generation: 0 };
    entry.generation = ++this.#generations;
    this.#names.set(name, entry);
    return entry;
  }
}

/** One turn of the event loop, as real I/O would take, then the call's cancellation. */
async function tick(signal: CallSignal | undefined): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve));
  throwIfCancelled(signal);
}
