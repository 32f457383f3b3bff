import { DEFAULT_TTL_MS } from "../../core/session/Manager.js";
import { DEFAULT_REQUEST_ID_WINDOW_MS } from "../../core/session/requestId.js";
import { DEFAULT_METADATA_KEY } from "../../protocol/metadataKey.js";
import { defaultFileDir } from "../defaultFileDir.js";
import { parseIdHashKeyFile, parseKeyFile, parseKeyList } from "../keyParsers.js";
import {
  durationText,
  parseBoolean,
  parseChoice,
  parseDuration,
  parseInteger,
  parseKey32,
  parseMetadataKey,
  parseNonEmpty,
} from "../parsers.js";
import { STORAGE_KINDS } from "./ServerConfig.js";
import { type AnySetting, AT_REST, FILE_ONLY } from "./Setting.js";

/** Where the server listens, where sessions live and how they behave. */
export const SERVICE_SETTINGS: readonly AnySetting[] = [
  {
    name: "HOST",
    key: "host",
    default: "127.0.0.1",
    parse: (raw) => parseNonEmpty(raw, "a host name or IP address"),
    description: "Address to listen on (0.0.0.0 or :: for every interface).",
  },
  {
    name: "PORT",
    key: "port",
    default: "50051",
    parse: (raw) => parseInteger(raw, 0, 65_535),
    description: "TCP port; 0 picks a free port (the 'listening' log line names it).",
  },
  {
    name: "STORAGE",
    key: "storage",
    default: "file",
    parse: (raw) => parseChoice(raw, STORAGE_KINDS),
    description: "Where sessions live: file, memory, redis (one key per session) or redis-hash.",
  },
  {
    name: "FILE_DIR",
    key: "fileDir",
    storages: FILE_ONLY,
    default: defaultFileDir(),
    parse: (raw) => parseNonEmpty(raw, "a directory path"),
    description:
      "Directory of the file storage, created 0700 with its parents if missing; it must belong to the user sessiond runs as and be writable by no one else.",
  },
  {
    name: "FILE_ENCRYPTION_KEY",
    key: "fileEncryptionKey",
    storages: FILE_ONLY,
    parse: parseKey32,
    secret: true,
    notAsFlag: { use: "set SESSIOND_FILE_ENCRYPTION_KEY, or use --encryption-key-file" },
    description:
      "Encrypts session files with AES-256-GCM: 32 bytes as 64 hex digits or base64. Environment only: the flag is refused, a command line shows in ps.",
  },
  // At rest (docs/security.md, "Stored data"): what a dump of the storage may reveal.
  {
    name: "ID_HASH_KEY_FILE",
    key: "idHashKey",
    storages: AT_REST,
    parse: parseIdHashKeyFile,
    defaultText: "one generated in the file directory, or in Redis under the prefix",
    description:
      "File holding the secret (32+ bytes, hex or base64) that sessions are stored under an HMAC of, never their ids; every instance needs the same one.",
  },
  {
    name: "ENCRYPTION_KEYS",
    key: "encryptionKeys",
    storages: AT_REST,
    parse: parseKeyList,
    secret: true,
    notAsFlag: { use: "set SESSIOND_ENCRYPTION_KEYS, or use --encryption-key-file" },
    description:
      "Encrypts stored sessions (file, redis, redis-hash) with AES-256-GCM: comma-separated 32-byte keys (hex or base64); the first encrypts, all decrypt. Environment only: the flag is refused, a command line shows in ps.",
  },
  {
    name: "ENCRYPTION_KEY_FILE",
    key: "encryptionKeyFile",
    storages: AT_REST,
    parse: parseKeyFile,
    description:
      "Like SESSIOND_ENCRYPTION_KEYS, from a file: one key per line, the first encrypts; # starts a comment.",
  },
  {
    name: "TTL",
    key: "ttlMs",
    default: durationText(DEFAULT_TTL_MS),
    parse: (raw) => parseDuration(raw),
    description: "Idle time to live, slid by every access (500ms, 30s, 24h or milliseconds).",
  },
  {
    name: "MAX_LIFETIME",
    key: "maxLifetimeMs",
    parse: (raw) => parseDuration(raw),
    description: "Absolute lifetime from creation, whatever the activity.",
  },
  {
    name: "ADOPT_UNKNOWN_IDS",
    key: "adoptUnknownIds",
    default: "false",
    parse: parseBoolean,
    boolean: true,
    description: "Write under an unknown client id instead of issuing a new one (allows fixation).",
  },
  {
    name: "REQUEST_ID_WINDOW",
    key: "requestIdWindowMs",
    default: durationText(DEFAULT_REQUEST_ID_WINDOW_MS),
    parse: (raw) => parseDuration(raw),
    description: "How long a write's request_id answers retries with its first outcome.",
  },
  {
    name: "METADATA_KEY",
    key: "metadataKey",
    default: DEFAULT_METADATA_KEY,
    parse: parseMetadataKey,
    description: "Request/response metadata entry that carries the session id.",
  },
];
