import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after } from "node:test";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { describeServiceSuite } from "../support/serviceSuite.js";

const dir = mkdtempSync(join(tmpdir(), "sessiond-service-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describeServiceSuite("memory", () => new MemoryStorage());
describeServiceSuite("file", () => new FileStorage({ dir }));
