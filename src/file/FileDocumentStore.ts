import { constants } from "node:fs";
import { access, lstat } from "node:fs/promises";
import type {
  DocumentStore,
  Loaded,
  LoadOptions,
  LockScope,
  Write,
} from "../core/engine/DocumentStore.js";
import { cloneJson, type JsonValue } from "../core/json.js";
import { throwIfCancelled } from "../core/storage/cancellation.js";
import {
  BUDGETED,
  type CapabilityKey,
  CapabilitySet,
  EXPIRY_COUNTED,
} from "../core/storage/capabilities.js";
import { KeyedLock } from "../core/storage/KeyedLock.js";
import { isLive } from "../core/storage/requestRecords.js";
import type {
  CallSignal,
  Expiry,
  KeyRead,
  ReadOptions,
  SessionMeta,
  SessionRecord,
} from "../core/storage/Storage.js";
import { FileSweeper } from "./FileSweeper.js";
import { failure, fsError } from "./fsErrors.js";
import type { StoredSession } from "./SessionFileCodec.js";
import { liveRecords, type SessionFiles, type StoredFile, withRecord } from "./SessionFiles.js";

/**
 * A create's request record lives in a tombstone file of its own, `_r_<key>.session`: the
 * new session's id is not known to a retry, the record's key is. Session ids never hold
 * "_", so the name cannot be a session's.
 */
const CREATE_RECORD = "_r_";

/**
 * What a load saw: the files themselves. Within one process the lock (see exclusive) keeps
 * every other writer out, so the files need no comparing at commit; another process can
 * only step in by creating a file, which the commit's link() finds (EEXIST).
 */
export interface FileRevision {
  /** The session's file: a live session or a tombstone; undefined when there was none. */
  file: StoredFile | undefined;
  /** The request key of the create record the load looked up, if it did. */
  createKey?: string | undefined;
  /** That record's own file, as loaded. */
  createFile?: StoredFile | undefined;
}

type KeptRecord = NonNullable<Write["record"]>;

export interface FileDocumentStoreOptions {
  sweepIntervalMs: number;
  corruptRetentionMs: number;
}

/**
 * The session files of one directory as a DocumentStore: SessionEngine decides the rules,
 * this decides where things live. A session is `<id>.session` (its expiry the file's
 * mtime), its request records inside it; a session removed with live records leaves a
 * tombstone (`gone`) holding them; a create's record has a file of its own.
 *
 * The read path (read, readKey, slide, remove) is native: served from the read cache
 * after one lstat, slides coalesced into one utimes, the lifetime the sealed creation time
 * gives checked on the way.
 */
export class FileDocumentStore implements DocumentStore<FileRevision> {
  readonly files: SessionFiles;
  readonly #locks = new KeyedLock();
  readonly #sweeper: FileSweeper;
  readonly #sweepIntervalMs: number;
  /** Set by open(), like everything below: the constructor does no I/O. */
  #opening: Promise<void> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The first count of the directory (see counted()). */
  #counted: Promise<void> = Promise.resolve();

  constructor(files: SessionFiles, options: FileDocumentStoreOptions) {
    this.files = files;
    this.#sweepIntervalMs = options.sweepIntervalMs;
    this.#sweeper = new FileSweeper(
      files,
      (id, fn) => this.#locks.run(id, fn),
      options.corruptRetentionMs,
    );
  }

  /** See FileStorage.open(). */
  open(): Promise<void> {
    this.#opening ??= this.#open().catch((err) => {
      this.#opening = undefined;
      throw err;
    });
    return this.#opening;
  }

  async #open(): Promise<void> {
    const files = this.files;
    await files.prepare();
    // The first sweep counts what is there, in the background: a million files take many
    // seconds, for which nothing waits; the budget meanwhile goes by what it counted so far.
    const started = Date.now();
    this.#counted = this.sweep()
      .then(
        () => {
          // Said only when worth knowing: the budget was soft until then.
          const ms = Date.now() - started;
          if (ms >= 1000) files.logger.info("file storage: counted the session files", { ms });
        },
        (err) => files.logger.warn("file storage: counting the session files failed", failure(err)),
      )
      .then(() => {
        const budget = files.budget;
        const over = budget?.overBudget();
        if (budget && over) {
          const { files: count, bytes } = budget.usage;
          files.logger.warn(`file storage: ${over}; writes that add to it are refused`, {
            dir: files.dir,
            files: count,
            bytes,
            ...budget.limits,
          });
        }
      });
    this.#timer = setInterval(() => {
      this.sweep().catch((err) => files.logger.warn("file storage sweep failed", failure(err)));
    }, this.#sweepIntervalMs);
    this.#timer.unref();
  }

  /** See FileStorage.counted(). */
  async counted(): Promise<void> {
    await this.open();
    await this.#counted;
  }

  /** See FileStorage.sweep(). */
  sweep(): Promise<number> {
    if (!this.files.prepared) return this.open().then(() => this.sweep());
    return this.#sweeper.sweep();
  }

  /**
   * Writers to the same names in this process wait for each other: the create record's
   * name first, then the ids (sorted by the engine), so two writers never deadlock. Once
   * the storage is open.
   */
  exclusive<T>(scope: LockScope, fn: () => Promise<T>): Promise<T> {
    this.files.assertOpen();
    let run = fn;
    for (let i = scope.ids.length - 1; i >= 0; i--) {
      const id = scope.ids[i] as string;
      const inner = run;
      run = () => this.#locks.run(id, inner);
    }
    if (scope.createRecord !== undefined) {
      const name = CREATE_RECORD + scope.createRecord;
      const inner = run;
      run = () => this.#locks.run(name, inner);
    }
    if (this.files.prepared) return run();
    return this.open().then(run);
  }

  async load(id: string, options: LoadOptions): Promise<Loaded<FileRevision>> {
    const files = this.files;
    const now = Date.now();
    // With the call's expiry, a session past its sealed lifetime is retired here, whatever
    // its mtime says, as a read would.
    const file = await files.loadAny(id, files.path(id), now, options.expiry);
    const revision: FileRevision = { file };
    const ref = options.record;
    let holder = file;
    if (ref?.create) {
      const name = CREATE_RECORD + ref.key;
      holder = await files.loadAny(name, files.path(name), now);
      revision.createKey = ref.key;
      revision.createFile = holder;
    }
    const found = ref && holder?.requests?.[ref.key];
    const session =
      file === undefined || file.gone
        ? undefined
        : {
            version: file.version,
            createTime: file.createTime,
            expireTime: file.expireTime,
            data: file.data,
          };
    return { revision, now, session, record: isLive(found, now) ? found : undefined };
  }

  /**
   * The writes in order, each in one file replace: a regenerate's new id first, so a crash
   * between leaves both files, a copy too many, never a session lost. A later write's
   * record that cannot be written (the disk budget) after the writes before it landed,
   * which cannot be taken back: its change still goes through, unrecorded (a regenerate's
   * move completes).
   */
  async commit(writes: readonly Write<FileRevision>[]): Promise<boolean> {
    const now = Date.now();
    let landed = false;
    for (const write of writes) {
      let done: boolean;
      try {
        done = await this.#commitOne(write, now);
      } catch (err) {
        if (!landed || write.record === undefined) throw err;
        done = await this.#commitOne({ ...write, record: undefined }, now);
      }
      if (!done) return false;
      landed = true;
    }
    return true;
  }

  /** False: a create found the file made meanwhile by another process. */
  async #commitOne(write: Write<FileRevision>, now: number): Promise<boolean> {
    const { id, revision, change, record } = write;
    const files = this.files;
    const path = files.path(id);
    const file = revision.file;
    const session = file?.gone ? undefined : file;
    // A create's record is kept in its own file, after the session's.
    const own = record?.ref.create ? undefined : record;
    switch (change.kind) {
      case "put": {
        const { version, createTime, expireTime, data } = change.doc;
        const next: StoredSession = { version, createTime, data };
        // A tombstone (or a session past its lifetime) under the id is replaced, its
        // records kept: they outlive the session that was there (see Idempotency).
        const requests = own
          ? withRecord(file?.requests, now, own.ref.key, own.record)
          : liveRecords(file?.requests, now);
        if (requests !== undefined) next.requests = requests;
        // The engine keeps a session's creation time: a new one over a session file means
        // that session was past the lifetime its sealed creation time gives.
        if (session !== undefined && session.createTime !== createTime) files.expired++;
        if (!(await files.write(id, path, next, expireTime, file !== undefined, file?.size)))
          return false;
        break;
      }
      case "slide":
        // The record must land with the slide: one rewrite instead of a utimes.
        if (own !== undefined) await this.#keep(id, path, file, own, now, change.expireTime);
        else if (session !== undefined) await files.setExpiry(path, now, change.expireTime);
        break;
      case "remove":
        if (session !== undefined) {
          if (change.expired) files.expired++;
          const extra = own && { key: own.ref.key, record: own.record };
          await files.retire(id, path, session.size, now, session, extra, true);
        } else if (own !== undefined) await this.#keep(id, path, file, own, now, undefined);
        break;
      case "keep":
        if (own !== undefined) await this.#keep(id, path, file, own, now, undefined);
        break;
    }
    if (record?.ref.create) {
      // The record is written right after the session: a crash in between leaves a
      // session whose id no caller was ever told.
      const name = CREATE_RECORD + record.ref.key;
      const recordPath = files.path(name);
      const held =
        revision.createKey === record.ref.key
          ? revision.createFile
          : await files.loadAny(name, recordPath, now);
      const requests = withRecord(held?.requests, now, record.ref.key, record.record);
      await files.writeTombstone(name, recordPath, requests, held?.size);
    }
    return true;
  }

  /**
   * Rewrites `file` with `own` among its records: the session as it was (at `expireTime`,
   * else its own), or a tombstone when there is no session.
   */
  async #keep(
    id: string,
    path: string,
    file: StoredFile | undefined,
    own: KeptRecord,
    now: number,
    expireTime: number | undefined,
  ): Promise<void> {
    const requests = withRecord(file?.requests, now, own.ref.key, own.record);
    if (file !== undefined && !file.gone) {
      const { version, createTime, data } = file;
      const next: StoredSession = { version, createTime, data, requests };
      await this.files.write(id, path, next, expireTime ?? file.expireTime, true, file.size);
    } else await this.files.writeTombstone(id, path, requests, file?.size);
  }

  async read(id: string, options: ReadOptions): Promise<SessionRecord | undefined> {
    const path = this.files.path(id);
    return this.#run(id, options.signal, async () => {
      const loaded = await this.files.loadLive(id, path, Date.now(), options);
      if (!loaded) return undefined;
      const expireTime = await this.files.slide(path, loaded, options, false);
      return {
        version: loaded.version,
        createTime: loaded.createTime,
        expireTime,
        data: cloneJson(loaded.data),
      };
    });
  }

  async readKey(id: string, key: string, options: ReadOptions): Promise<KeyRead | undefined> {
    const path = this.files.path(id);
    return this.#run(id, options.signal, async () => {
      const loaded = await this.files.loadLive(id, path, Date.now(), options);
      if (!loaded) return undefined;
      await this.files.slide(path, loaded, options, false);
      return Object.hasOwn(loaded.data, key)
        ? { found: true, value: cloneJson(loaded.data[key] as JsonValue) }
        : { found: false };
    });
  }

  async slide(
    id: string,
    options: Expiry & { signal?: CallSignal | undefined },
  ): Promise<SessionMeta | undefined> {
    const path = this.files.path(id);
    return this.#run(id, options.signal, async () => {
      const loaded = await this.files.loadLive(id, path, Date.now(), options);
      if (!loaded) return undefined;
      const expireTime = await this.files.slide(path, loaded, options, true);
      return { version: loaded.version, createTime: loaded.createTime, expireTime };
    });
  }

  async remove(id: string, signal?: CallSignal): Promise<void> {
    const files = this.files;
    const path = files.path(id);
    files.cache.delete(id);
    await this.#run(id, signal, async () => {
      const stats = await lstat(path).catch(() => undefined);
      if (!stats) return;
      // Its live request records outlive it (see Idempotency): a tombstone keeps them.
      if (stats.isFile()) {
        await files.retire(id, path, stats.size, Date.now(), undefined, undefined, true);
      } else await files.unlink(id, path, undefined, true);
    });
  }

  async ping(): Promise<void> {
    await this.open();
    try {
      await access(this.files.dir, constants.W_OK | constants.X_OK);
    } catch (err) {
      throw fsError(err, "write", this.files.dir);
    }
  }

  /** Stops the sweeper and waits for operations in flight. Later calls fail with unavailable. */
  async close(): Promise<void> {
    this.files.close();
    await this.#opening?.catch(() => {});
    clearInterval(this.#timer);
    this.files.cache.clear();
    await this.#sweeper.idle();
    await this.#locks.idle();
    await this.files.dirSync.close();
  }

  capability<T>(key: CapabilityKey<T>): T | undefined {
    return this.#capabilities.get(key);
  }

  readonly #capabilities = new CapabilitySet()
    .with(EXPIRY_COUNTED, { expired: () => this.files.expired })
    .with(BUDGETED, {
      medium: "file",
      usage: () => {
        const budget = this.files.budget;
        if (budget === undefined) return undefined;
        const { usage, limits } = budget;
        return {
          sessions: usage.files,
          usedBytes: usage.bytes,
          maxBytes: limits.maxTotalBytes,
          maxFiles: limits.maxFiles,
          minFreeBytes: limits.minFreeBytes,
        };
      },
    });

  /**
   * Runs `fn` under the lock of `id`, once the storage is open, unless `signal` was
   * aborted meanwhile (waiting for the lock can take a while): then nothing is touched.
   */
  #run<T>(id: string, signal: CallSignal | undefined, fn: () => Promise<T>): Promise<T> {
    this.files.assertOpen();
    const locked =
      signal === undefined
        ? fn
        : () => {
            throwIfCancelled(signal);
            return fn();
          };
    if (this.files.prepared) return this.#locks.run(id, locked);
    return this.open().then(() => this.#locks.run(id, locked));
  }
}
