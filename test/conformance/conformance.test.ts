import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { describeStorageConformance } from "../../src/testing/index.js";

describeStorageConformance({ name: "memory", create: () => new MemoryStorage() });

describeStorageConformance({
  name: "file",
  create: () =>
    new FileStorage({ dir: mkdtempSync(join(tmpdir(), "sessiond-conf-")), logger: silentLogger }),
});

describeStorageConformance({
  name: "file (encrypted)",
  create: () =>
    new FileStorage({
      dir: mkdtempSync(join(tmpdir(), "sessiond-conf-enc-")),
      logger: silentLogger,
      encryptionKey: Buffer.alloc(32, 7),
    }),
});

describeStorageConformance({
  name: "file (hashed ids, rotated keys)",
  create: () =>
    new HashedIdStorage(
      new FileStorage({
        dir: mkdtempSync(join(tmpdir(), "sessiond-conf-hashed-")),
        logger: silentLogger,
        encryptionKeys: [Buffer.alloc(32, 8), Buffer.alloc(32, 7)],
      }),
      Buffer.alloc(32, 9),
    ),
});
