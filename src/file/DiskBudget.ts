import type { StatsFs } from "node:fs";
import { statfs } from "node:fs/promises";
import { integerOption } from "../core/integerOption.js";
import { SessionError } from "../core/SessionError.js";
import { type SettingNames, settingHint } from "../core/settingNames.js";
import { DiskUsage } from "./DiskUsage.js";

export interface DiskBudgetOptions {
  /** Disk all session files may take, in bytes. Default: see DiskBudget. Infinity lifts it. */
  maxTotalBytes?: number;
  /** Most session files. Default 1 000 000. Infinity lifts it. */
  maxFiles?: number;
  /** Free space a write must leave on the filesystem. Default: see DiskBudget. 0 lifts it. */
  minFreeBytes?: number;
  /** Named in refusals next to the budget (see core/settingNames.ts). */
  settingNames?: SettingNames;
}

/** The options, checked: undefined where the default (which needs the filesystem) applies. */
export interface DiskBudgetSettings {
  maxTotalBytes: number | undefined;
  maxFiles: number;
  minFreeBytes: number | undefined;
  settingNames: SettingNames | undefined;
}

/** Checks the options without touching the disk (a ConfigError naming the bad one). */
export function diskBudgetSettings(options: DiskBudgetOptions): DiskBudgetSettings {
  return {
    maxTotalBytes: limit("maxTotalBytes", options.maxTotalBytes, 1),
    maxFiles: limit("maxFiles", options.maxFiles, 1) ?? DEFAULT_MAX_FILES,
    minFreeBytes: limit("minFreeBytes", options.minFreeBytes, 0),
    settingNames: options.settingNames,
  };
}

const GiB = 1024 ** 3;
/** Beyond what typical sessions need at maxFiles (a million 4 KiB blocks), with room to spare. */
const DEFAULT_MAX_BYTES = 8 * GiB;
export const DEFAULT_MAX_FILES = 1_000_000;
const DEFAULT_MIN_FREE_BYTES = GiB;
/** Share of the filesystem's space (and inodes) kept free when that is less than the above. */
const FREE_SHARE = 0.05;
const MAX_MIN_FREE_INODES = 100_000;
/** How stale the filesystem's free space may be; our own writes and deletes count meanwhile. */
const STATFS_MS = 1000;

/**
 * What the file storage may still write: the session files' total size and count against
 * their budgets, and the filesystem's free space and inodes against a floor, so that the
 * storage neither grows without bound nor fills the disk under everything else on the host.
 * Only writes that add something are refused (resource_exhausted, naming the budget and
 * its setting); rewrites that do not grow and deletes always go ahead.
 *
 * Defaults: maxFiles 1 000 000; maxTotalBytes the smaller of 8 GiB and half of what was
 * free on the filesystem at start plus what the sessions already took (so a restart does
 * not shrink it); minFreeBytes the smaller of 1 GiB and 5% of the filesystem, along with
 * 5% of its inodes (at most 100 000).
 */
export class DiskBudget {
  readonly usage: DiskUsage;
  readonly #dir: string;
  readonly #maxFiles: number;
  readonly #minFreeBytes: number;
  readonly #minFreeInodes: number;
  readonly #freeAtStart: number;
  /** The setting, or undefined for the default (which depends on the first count). */
  readonly #maxBytesSetting: number | undefined;
  readonly #names: SettingNames | undefined;
  /** The filesystem's free space and inodes at the last statfs, and the usage then. */
  #free: { bytes: number; inodes: number | undefined; usedBytes: number; usedFiles: number };
  #checkedAt = Date.now();
  #checking = false;

  /** The filesystem's figures `fs` (statfs of `dir`) size the defaults. */
  constructor(dir: string, settings: DiskBudgetSettings, fs: StatsFs) {
    this.#dir = dir;
    this.usage = new DiskUsage(fs.bsize > 0 ? fs.bsize : 4096);
    this.#freeAtStart = fs.bavail * fs.bsize;
    this.#free = { bytes: this.#freeAtStart, inodes: inodes(fs), usedBytes: 0, usedFiles: 0 };
    this.#maxBytesSetting = settings.maxTotalBytes;
    this.#maxFiles = settings.maxFiles;
    this.#names = settings.settingNames;
    const floor = settings.minFreeBytes;
    const share = Math.floor(FREE_SHARE * fs.blocks * fs.bsize);
    this.#minFreeBytes = floor ?? Math.min(DEFAULT_MIN_FREE_BYTES, share);
    this.#minFreeInodes =
      this.#minFreeBytes === 0
        ? 0
        : Math.min(MAX_MIN_FREE_INODES, Math.floor(FREE_SHARE * fs.files));
  }

  /** Until the first count is complete, what the sessions took at start is not known: left out. */
  get #maxBytes(): number {
    const own = this.usage.bytesAtStart ?? 0;
    return (
      this.#maxBytesSetting ??
      Math.min(DEFAULT_MAX_BYTES, Math.floor((this.#freeAtStart + own) / 2))
    );
  }

  /** Which budget the files already exceed (a lowered setting, files from elsewhere), if any. */
  overBudget(): string | undefined {
    const { files, bytes } = this.usage;
    if (bytes > this.#maxBytes) {
      return `the session files take ${bytes} bytes, over maxTotalBytes=${this.#maxBytes}`;
    }
    if (files > this.#maxFiles) {
      return `there are ${files} session files, over maxFiles=${this.#maxFiles}`;
    }
    return undefined;
  }

  get limits(): { maxTotalBytes: number; maxFiles: number; minFreeBytes: number } {
    return {
      maxTotalBytes: this.#maxBytes,
      maxFiles: this.#maxFiles,
      minFreeBytes: this.#minFreeBytes,
    };
  }

  /**
   * Takes a write of session `id` from `before` to `after` bytes (undefined: no file)
   * into account, or throws resource_exhausted when it would break a budget. A failed
   * write must be reported back with usage.change(id, after, before).
   */
  admit(id: string, before: number | undefined, after: number): void {
    const { usage } = this;
    const growth = usage.cost(after) - usage.cost(before);
    const newFile = before === undefined;
    if (growth > 0 || newFile) {
      this.#refresh();
      const max = this.#maxBytes;
      if (growth > 0 && usage.bytes + growth > max) {
        throw full(
          `file storage is full: this write needs ${growth} more bytes of disk and session files take ${usage.bytes} of the budget maxTotalBytes=${max}${settingHint(this.#names, "maxTotalBytes")}`,
        );
      }
      if (newFile && usage.files + 1 > this.#maxFiles) {
        throw full(
          `file storage is full: it holds ${usage.files} session files, the budget maxFiles=${this.#maxFiles}${settingHint(this.#names, "maxFiles")}`,
        );
      }
      // Since the last statfs, what this process's files grew by is gone from the free
      // space. The new file is written whole before the old one goes: it needs all its blocks.
      const last = this.#free;
      const free = last.bytes - (usage.bytes - last.usedBytes) - usage.cost(after);
      if (this.#minFreeBytes > 0 && free < this.#minFreeBytes) {
        throw full(
          `the filesystem of ${this.#dir} is nearly full: this write would leave ${Math.max(0, free)} bytes free, under the floor minFreeBytes=${this.#minFreeBytes}${settingHint(this.#names, "minFreeBytes")}`,
        );
      }
      const inodesLeft =
        last.inodes === undefined ? undefined : last.inodes - (usage.files - last.usedFiles) - 1;
      if (
        newFile &&
        this.#minFreeInodes > 0 &&
        inodesLeft !== undefined &&
        inodesLeft < this.#minFreeInodes
      ) {
        throw full(
          `the filesystem of ${this.#dir} is nearly out of inodes: ${Math.max(0, inodesLeft)} would be left, under the floor of ${this.#minFreeInodes} kept with minFreeBytes${settingHint(this.#names, "minFreeBytes")}`,
        );
      }
    }
    usage.change(id, before, after);
  }

  /** Re-reads the free space in the background when it is stale. */
  #refresh(): void {
    if (this.#checking || Date.now() - this.#checkedAt < STATFS_MS) return;
    this.#checking = true;
    const { bytes: usedBytes, files: usedFiles } = this.usage;
    statfs(this.#dir)
      .then((fs) => {
        this.#free = { bytes: fs.bavail * fs.bsize, inodes: inodes(fs), usedBytes, usedFiles };
      })
      // A failing statfs keeps the last figures; the write that needs the disk will say why.
      .catch(() => {})
      .finally(() => {
        this.#checking = false;
        this.#checkedAt = Date.now();
      });
  }
}

/** Free inodes, or undefined on filesystems that make them as needed (they report none). */
function inodes(fs: StatsFs): number | undefined {
  return fs.files > 0 ? fs.ffree : undefined;
}

function full(message: string): SessionError {
  return new SessionError("resource_exhausted", message, { reason: "DISK_FULL" });
}

function limit(option: string, value: number | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  return integerOption(option, value, { min, fallback: 0, infinite: true });
}
