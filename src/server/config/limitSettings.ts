import { defaultLimits } from "../../core/Limits.js";
import { DEFAULT_MAX_FILES } from "../../file/DiskBudget.js";
import { parseBudget, parseByteSize, parseInteger } from "../parsers.js";
import { type AnySetting, FILE_ONLY, MEMORY_ONLY } from "./Setting.js";

const positive = (raw: string) => parseInteger(raw, 1);
const SIZE = "a size such as 1048576, 512MiB, 2GiB or 1.5GB";

/** Limits per request and per session, and the storage budgets (docs/limits.md). */
export const LIMIT_SETTINGS: readonly AnySetting[] = [
  {
    name: "MAX_KEY_BYTES",
    key: "maxKeyBytes",
    default: String(defaultLimits.maxKeyBytes),
    parse: positive,
    description: "Longest key, in UTF-8 bytes (longer: INVALID_ARGUMENT).",
  },
  {
    name: "MAX_VALUE_BYTES",
    key: "maxValueBytes",
    default: String(defaultLimits.maxValueBytes),
    parse: positive,
    description: "Largest value, in bytes of its JSON (larger: RESOURCE_EXHAUSTED).",
  },
  {
    name: "MAX_KEYS",
    key: "maxKeys",
    default: String(defaultLimits.maxKeys),
    parse: positive,
    description: "Most keys in one session (more: RESOURCE_EXHAUSTED).",
  },
  {
    name: "MAX_SESSION_BYTES",
    key: "maxSessionBytes",
    default: String(defaultLimits.maxSessionBytes),
    parse: positive,
    description: "Largest session, keys plus value JSON, in bytes (larger: RESOURCE_EXHAUSTED).",
  },
  {
    name: "MAX_OPS",
    key: "maxOps",
    default: String(defaultLimits.maxOps),
    parse: positive,
    description:
      "Most operations one write may carry: keys of a SetMap or Remove (more: RESOURCE_EXHAUSTED).",
  },
  {
    name: "MEMORY_MAX_SESSIONS",
    key: "memoryMaxSessions",
    storages: MEMORY_ONLY,
    parse: positive,
    description: "Memory storage only: most live sessions (more: RESOURCE_EXHAUSTED).",
  },
  // Storage budgets (docs/limits.md, "Storage budgets"): beyond them writes are RESOURCE_EXHAUSTED.
  {
    name: "MEMORY_MAX_BYTES",
    key: "memoryMaxBytes",
    storages: MEMORY_ONLY,
    default: "auto",
    parse: (raw) => parseBudget(raw, parseByteSize, SIZE),
    description:
      "Memory storage only: heap all sessions may take, as estimated (auto: half the old generation's limit; 0 or unlimited: no limit).",
  },
  {
    name: "FILE_MAX_BYTES",
    key: "fileMaxBytes",
    storages: FILE_ONLY,
    default: "auto",
    parse: (raw) => parseBudget(raw, parseByteSize, SIZE),
    description:
      "File storage only: disk all session files may take (auto: the smaller of 8GiB and half the free space at start; 0 or unlimited: no limit).",
  },
  {
    name: "FILE_MAX_FILES",
    key: "fileMaxFiles",
    storages: FILE_ONLY,
    default: String(DEFAULT_MAX_FILES),
    parse: (raw) => parseBudget(raw, (text) => parseInteger(text, 0), "a whole number"),
    description: "File storage only: most session files (0 or unlimited: no limit).",
  },
  {
    name: "FILE_MIN_FREE_BYTES",
    key: "fileMinFreeBytes",
    storages: FILE_ONLY,
    default: "auto",
    parse: (raw) => parseBudget(raw, parseByteSize, SIZE, { unlimited: false }),
    description:
      "File storage only: free space a write must leave on the filesystem, with 5% of its inodes (auto: the smaller of 1GiB and 5% of it; 0: no floor).",
  },
];
