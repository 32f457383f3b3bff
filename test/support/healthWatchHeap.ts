// Run as `node --expose-gc --import tsx test/support/healthWatchHeap.ts <watches> <nameBytes>`:
// starts a server in this process, opens that many health Watch calls, each with its own
// service name of nameBytes bytes, cancels them all, and prints as one JSON line the heap
// the server still holds for them after a full GC (the client is closed by then).
import {
  type ClientReadableStream,
  credentials,
  makeClientConstructor,
  type ServiceDefinition,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { startServer } from "../../src/server/startServer.js";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --expose-gc");
const heap = () => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};

const watches = Number(process.argv[2] ?? 100);
const nameBytes = Number(process.argv[3] ?? 256);
const running = await startServer({ port: 0, storage: "memory" });
const Health = makeClientConstructor(healthService as ServiceDefinition, "Health");
type WatchClient = {
  watch(request: { service: string }): ClientReadableStream<{ status: string }>;
  close(): void;
};
const outcomes: Record<string, number> = {};

async function watchAll(count: number, bytes: number, seed: string): Promise<void> {
  const client = new Health(
    running.address,
    credentials.createInsecure(),
  ) as unknown as WatchClient;
  for (let i = 0; i < count; i += 20) {
    await Promise.all(
      Array.from({ length: Math.min(20, count - i) }, (_, j) => {
        const name = `${seed}-${i + j}-`.padEnd(bytes, "x");
        const call = client.watch({ service: name });
        return new Promise<void>((resolve) => {
          let seen = false;
          const done = (what: string) => {
            if (seen) return; // the cancel below ends the call with CANCELLED
            seen = true;
            if (seed !== "warm-up") outcomes[what] = (outcomes[what] ?? 0) + 1;
            call.cancel();
            resolve();
          };
          call.on("data", (msg: { status: string }) => done(msg.status));
          call.on("error", (err: { code: number; details: string }) =>
            done(`error ${err.code} ${err.details.slice(0, 80)}`),
          );
        });
      }),
    );
  }
  client.close();
  // Time for the server to see the cancellations and the client's channel to go.
  await new Promise((r) => setTimeout(r, 500));
}

// grpc-js's lazily built structures are not what is measured.
await watchAll(20, Math.min(nameBytes, 256), "warm-up");
const before = heap();
await watchAll(watches, nameBytes, "watch");
const heldBytes = heap() - before;
console.log(JSON.stringify({ watches, nameBytes, heldMiB: heldBytes / 2 ** 20, outcomes }));
await running.shutdown(1000);
