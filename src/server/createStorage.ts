import type { Logger } from "../common/Logger.js";
import { FileStorage, type FileStorageOptions } from "../storage/FileStorage.js";
import { MemoryStorage } from "../storage/MemoryStorage.js";
import type { Storage } from "../storage/Storage.js";
import { ConfigError, type ServerConfig } from "./config.js";

/** The storage the settings ask for. The caller owns it and closes it. */
export async function createStorage(config: ServerConfig, logger: Logger): Promise<Storage> {
  switch (config.storage) {
    case "file": {
      const options: FileStorageOptions & { encryptionKey?: Buffer } = {
        dir: config.fileDir,
        logger,
        encryptionKey: config.fileEncryptionKey,
      };
      return new FileStorage(options);
    }
    case "memory":
      return new MemoryStorage({ maxSessions: config.memoryMaxSessions });
    case "redis":
    case "redis-hash":
      throw new ConfigError(
        `SESSIOND_STORAGE (--storage): storage ${config.storage} is not available in this build`,
      );
  }
}
