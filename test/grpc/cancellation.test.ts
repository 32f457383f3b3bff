// A call that ends early (its deadline passed, or the client cancelled) reaches the
// Session as an aborted signal: the handler's later storage calls never start, and the
// changes it queued are not committed. Real server, real channel, real storage.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  type Client,
  credentials,
  Metadata,
  makeGenericClientConstructor,
  Server,
  status,
} from "@grpc/grpc-js";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import type { SessionError } from "../../src/core/SessionError.js";
import { Manager } from "../../src/core/session/Manager.js";
import { getSession } from "../../src/grpc/getSession.js";
import { sessionInterceptor } from "../../src/grpc/sessionInterceptor.js";
import { unaryHandler } from "../../src/grpc/unaryHandler.js";
import { GatedStorage } from "../support/GatedStorage.js";
import { unaryMethod } from "../support/jsonService.js";
import { InstrumentedStorage } from "../support/serviceInstrumentedStorage.js";
import { rawCall } from "../support/serviceRawCall.js";
import { bind, shutdown } from "../support/serviceTestServer.js";

const SlowService = { readThenWrite: unaryMethod("test.Slow", "ReadThenWrite") };
const SlowClient = makeGenericClientConstructor(SlowService, "Slow");

describe("a call that ends early stops reaching the storage", { concurrency: 1 }, () => {
  const counted = new InstrumentedStorage(new MemoryStorage());
  const gated = new GatedStorage(counted);
  const manager = new Manager({ storage: gated, logger: silentLogger });
  /** What each handler run saw after its read came back. */
  const outcomes: Array<{ error?: SessionError; aborted: boolean }> = [];
  let server: Server;
  let client: Client;
  let id: string;

  before(async () => {
    server = new Server({ interceptors: [sessionInterceptor(manager)] });
    server.addService(SlowService, {
      readThenWrite: unaryHandler(async (call) => {
        const session = getSession(call);
        try {
          // Held at the gate while the call ends; the storage behind it then refuses it,
          // or, had it answered, the commit would be refused.
          await session.get("n");
          session.set("n", 2);
          await session.commit();
          outcomes.push({ aborted: false });
        } catch (err) {
          outcomes.push({ error: err as SessionError, aborted: true });
          throw err;
        }
        return {};
      }),
    });
    const port = await bind(server);
    client = new SlowClient(`127.0.0.1:${port}`, credentials.createInsecure());
    const first = manager.session();
    first.set("n", 1);
    await first.commit();
    id = first.id as string;
  });

  after(async () => {
    client.close();
    await shutdown(server);
  });

  /** Waits until `n` reads are held at the gate (the handler is inside its await). */
  async function heldReads(n: number): Promise<void> {
    for (let i = 0; i < 2000 && gated.waiting < n; i++) await new Promise((r) => setTimeout(r, 5));
    assert.equal(gated.waiting, n, "the handler's read reached the gate");
  }

  for (const [name, code, end] of [
    ["deadline", "deadline_exceeded", { deadlineMs: 300 }],
    ["client cancel", "cancelled", { cancel: true }],
  ] as const) {
    it(`${name}: the handler's commit is refused with ${code}, and no write reaches the storage`, async () => {
      outcomes.length = 0;
      const appliesBefore = counted.calls.apply;
      gated.hold();
      let outcome: { code: number } | undefined;
      if ("cancel" in end) {
        const md = new Metadata();
        md.set("x-session-id", id);
        const call = (
          client as unknown as Record<string, (...a: unknown[]) => { cancel(): void }>
        ).readThenWrite?.call(client, {}, md, (err: { code: number } | null) => {
          outcome = err ?? { code: status.OK };
        });
        await heldReads(1);
        call.cancel();
        for (let i = 0; i < 400 && outcome === undefined; i++)
          await new Promise((r) => setTimeout(r, 5));
      } else {
        const pending = rawCall(client, "readThenWrite", {}, { id, deadlineMs: end.deadlineMs });
        await heldReads(1);
        outcome = (await pending).error ?? { code: status.OK };
        // The client's clock ran out; the server's (from the grpc-timeout header) runs out
        // moments later: wait until the held read's signal says so.
        for (let i = 0; i < 400 && !gated.lastSignal?.aborted; i++) {
          await new Promise((r) => setTimeout(r, 5));
        }
      }
      assert.equal(
        outcome?.code,
        code === "cancelled" ? status.CANCELLED : status.DEADLINE_EXCEEDED,
      );
      // Only now does the read come back: the call is over.
      gated.release();
      for (let i = 0; i < 400 && outcomes.length === 0; i++)
        await new Promise((r) => setTimeout(r, 5));
      assert.equal(outcomes.length, 1, "the handler ran on after its read");
      const seen = outcomes[0];
      assert.equal(seen?.aborted, true, "the handler's storage calls were refused");
      assert.equal(seen?.error?.code, code, String(seen?.error?.message));
      assert.match(seen?.error?.message ?? "", /nothing was sent to the storage/);
      assert.equal(counted.calls.apply, appliesBefore, "no write reached the storage");
      assert.equal(await manager.session(id).get("n"), 1, "the queued change was not applied");
    });
  }
});
