// Placeholder until the file storage lands: keeps the Manager's default wiring compiling.
import type { Logger } from "../common/Logger.js";
import { MemoryStorage } from "./MemoryStorage.js";

export interface FileStorageOptions {
  dir?: string;
  logger?: Logger;
}

export class FileStorage extends MemoryStorage {
  constructor(_options: FileStorageOptions = {}) {
    super();
  }
}
