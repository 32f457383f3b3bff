import { type FSWatcher, unwatchFile, watch, watchFile } from "node:fs";
import { dirname, resolve } from "node:path";

export interface FileWatcherOptions {
  /** Quiet time after the last event before `onChange` runs: a rotation writes several files. */
  debounceMs?: number;
  /** Stat polling interval, for filesystems whose directory events do not arrive (NFS). */
  pollMs?: number;
  /** Told when a watch cannot be set up (the files still reload on SIGHUP). */
  onWatchError?: (path: string, err: Error) => void;
}

/**
 * Calls `onChange` (debounced) when any of `paths` may have changed. Each file's
 * directory is watched rather than the file itself: cert-manager and Kubernetes Secret
 * mounts swap a `..data` symlink and certbot repoints symlinks, which a watch on the old
 * inode would never see. Events in the directory that concern other files only cost a
 * re-read that finds nothing new, which the callback is expected to detect.
 */
export class FileWatcher {
  readonly #watchers: FSWatcher[] = [];
  readonly #polled: string[] = [];
  readonly #onChange: () => void;
  readonly #debounceMs: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(paths: readonly string[], onChange: () => void, options: FileWatcherOptions = {}) {
    this.#onChange = onChange;
    this.#debounceMs = options.debounceMs ?? 100;
    const poke = () => this.#schedule();
    const dirs = new Set(paths.map((path) => dirname(resolve(path))));
    for (const dir of dirs) {
      try {
        const watcher = watch(dir, { persistent: false }, poke);
        watcher.on("error", (err) => options.onWatchError?.(dir, err));
        this.#watchers.push(watcher);
      } catch (err) {
        options.onWatchError?.(dir, err as Error);
      }
    }
    for (const path of new Set(paths.map((p) => resolve(p)))) {
      watchFile(path, { persistent: false, interval: options.pollMs ?? 5000 }, poke);
      this.#polled.push(path);
    }
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const watcher of this.#watchers) watcher.close();
    for (const path of this.#polled) unwatchFile(path);
  }

  #schedule(): void {
    if (this.#closed) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      if (!this.#closed) this.#onChange();
    }, this.#debounceMs);
    this.#timer.unref();
  }
}
