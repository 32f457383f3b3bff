// Run as a child process (possibly under another uid): opens a FileStorage on argv[2],
// writes one session, and prints the outcome as one JSON line.

import { resolveLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { SessionError } from "../../src/core/SessionError.js";
import { FileStorage } from "../../src/file/FileStorage.js";

const dir = process.argv[2] as string;
try {
  const storage = new FileStorage({ dir, logger: silentLogger });
  await storage.apply(
    "probe",
    { ops: [{ type: "set", key: "a", value: 1 }] },
    { ttlMs: 60_000, limits: resolveLimits(), mode: "upsert" },
  );
  await storage.close();
  console.log(JSON.stringify({ ok: true }));
} catch (err) {
  const e = err as SessionError;
  console.log(
    JSON.stringify({
      ok: false,
      isSessionError: err instanceof SessionError,
      code: e.code,
      message: e.message,
    }),
  );
}
