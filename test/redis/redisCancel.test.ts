/**
 * Cancellation against a real Redis that stops answering (SIGSTOP): a caller that gives up
 * is answered at once instead of after the command bound, with the truth — "already sent,
 * outcome unknown" when the command had gone out, "nothing was sent" otherwise — and
 * nothing more is sent for it, nor re-sent once Redis answers again.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, test } from "node:test";
import { defaultLimits } from "../../src/core/Limits.js";
import { silentLogger } from "../../src/core/Logger.js";
import { SessionError } from "../../src/core/SessionError.js";
import { callAborted } from "../../src/core/storage/cancellation.js";
import type { ApplyOptions, Storage } from "../../src/core/storage/Storage.js";
import { createRedisStorage } from "../../src/redis/createRedisStorage.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { REDIS_KINDS, uniquePrefix } from "../support/redisStorages.js";

/** Far longer than the test waits for a cancelled call: the bound must not be what ends it. */
const COMMAND_TIMEOUT_MS = 20_000;
const opts = (signal?: AbortSignal): ApplyOptions => ({
  mode: "upsert",
  ttlMs: 60_000,
  limits: defaultLimits,
  signal,
});
const newId = () => randomBytes(16).toString("hex");

const STAGES = {
  unsent: /nothing was sent to the storage/,
  reading: /a read was in flight; nothing was written/,
  writing: /already sent: whether it was applied is unknown/,
};

function refused(code: "cancelled" | "deadline_exceeded", stage: keyof typeof STAGES) {
  return (err: unknown) => {
    assert.ok(err instanceof SessionError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, STAGES[stage]);
    return true;
  };
}

/** Commands Redis has processed, by the server's own count (INFO stats). */
function processed(redis: RedisProcess): number {
  const info = redis.cli("info", "stats");
  return Number(/total_commands_processed:(\d+)/.exec(info)?.[1]);
}

for (const kind of [...REDIS_KINDS, "encrypted redis"] as const) {
  describe(`cancelling calls to a hung Redis (${kind})`, { concurrency: 1 }, () => {
    let redis: RedisProcess;
    let storage: Storage;
    const sealed = kind === "encrypted redis";

    before(async () => {
      redis = await startRedis();
      storage = createRedisStorage(
        kind === "encrypted redis" ? "redis" : kind,
        {
          url: redis.url,
          prefix: uniquePrefix(),
          commandTimeoutMs: COMMAND_TIMEOUT_MS,
          encryptionKeys: kind === "encrypted redis" ? [randomBytes(32)] : undefined,
          // Raw ids: these tests count the commands a cancelled call sends.
          ids: "raw",
        },
        silentLogger,
      );
      await storage.ping();
    });

    after(async () => {
      redis.resume();
      await storage.close();
      await redis.stop();
    });

    test("a call cut short while its command is out is answered at once: sent, outcome unknown; never re-sent", async () => {
      const id = newId();
      await storage.apply(id, { ops: [{ type: "set", key: "n", value: 0 }] }, opts());
      redis.pause();
      try {
        const controller = new AbortController();
        const pending = storage.apply(
          id,
          { ops: [{ type: "increment", key: "n", delta: 1 }] },
          opts(controller.signal),
        );
        let settled = false;
        pending
          .catch(() => {})
          .finally(() => {
            settled = true;
          });
        await new Promise((r) => setTimeout(r, 50));
        assert.equal(settled, false, "the hung Redis holds the call");
        controller.abort(callAborted("deadline_exceeded"));
        // Answered while Redis is still stopped: the abort, not Redis, ended it.
        // The plain storages send the write as one script; the encrypted one reads first
        // (in Node, to decrypt) and was cut short there, before its write went out.
        await assert.rejects(pending, refused("deadline_exceeded", sealed ? "reading" : "writing"));
      } finally {
        redis.resume();
      }
      // A write that was out is applied once Redis runs again, exactly once; a write never
      // sent is never applied.
      const expected = sealed ? 0 : 1;
      const record = await storage.read(id, { ttlMs: 60_000 });
      assert.equal(record?.data.n, expected);
      await new Promise((r) => setTimeout(r, 100));
      assert.equal((await storage.read(id, { ttlMs: 60_000 }))?.data.n, expected, "no late send");
    });

    test("a call whose signal is already aborted sends Redis nothing", async () => {
      const id = newId();
      await storage.apply(id, { ops: [{ type: "set", key: "a", value: 1 }] }, opts());
      const controller = new AbortController();
      controller.abort(callAborted("cancelled"));
      const before = processed(redis);
      await assert.rejects(
        storage.apply(id, { ops: [{ type: "set", key: "a", value: 2 }] }, opts(controller.signal)),
        refused("cancelled", "unsent"),
      );
      await assert.rejects(
        storage.read(id, { ttlMs: 60_000, signal: controller.signal }),
        refused("cancelled", "unsent"),
      );
      // The only command in between is the INFO that reads the count.
      assert.equal(processed(redis) - before, 1, "no command reached Redis");
      assert.equal((await storage.read(id, { ttlMs: 60_000 }))?.data.a, 1);
    });
  });
}
