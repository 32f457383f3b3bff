// The client side of the test services' Countdown method (server streaming, messages
// {i}): what arrived, and what the storage held under the session when each message did,
// so a test can tell that every message left only after the write before it.
import type { Client, ClientReadableStream, Metadata, ServiceError } from "@grpc/grpc-js";
import { Metadata as GrpcMetadata } from "@grpc/grpc-js";
import type { Storage } from "../../src/core/storage/Storage.js";
import type { Json } from "./jsonService.js";

export interface CountdownOutcome {
  headers?: Metadata;
  trailers?: Metadata;
  messages: { i: number; storedTicks: number | undefined }[];
  error?: ServiceError;
}

/** Calls `countdown` on `client` with `req` (and the session `id`), reading `storage` as messages come. */
export function readCountdown(
  client: Client,
  storage: Storage,
  req: Json,
  id?: string,
): Promise<CountdownOutcome> {
  const md = new GrpcMetadata();
  if (id !== undefined) md.set("x-session-id", id);
  const call = (
    client as unknown as Record<string, (...a: unknown[]) => ClientReadableStream<Json>>
  ).countdown.call(client, req, md, { deadline: Date.now() + 5000 });
  return new Promise((resolve) => {
    const result: CountdownOutcome = { messages: [] };
    const reads: Promise<void>[] = [];
    call.on("metadata", (headers: Metadata) => {
      result.headers = headers;
    });
    call.on("data", (msg: Json) => {
      // What the storage holds when a message arrives, read while the stream goes on.
      const known = result.headers?.get("x-session-id")[0] ?? id;
      const entry = { i: Number(msg.i), storedTicks: undefined as number | undefined };
      result.messages.push(entry);
      if (typeof known === "string") {
        reads.push(
          storage.read(known, { ttlMs: 60_000 }).then((r) => {
            entry.storedTicks = r?.data.ticks as number | undefined;
          }),
        );
      }
    });
    call.on("error", (err: ServiceError) => {
      result.error = err;
    });
    call.on("status", async (st: { metadata: Metadata }) => {
      result.trailers = st.metadata;
      await Promise.all(reads);
      resolve(result);
    });
  });
}
