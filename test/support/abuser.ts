import type { ServiceError } from "@grpc/grpc-js";
import type { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import { sessionClient, unary } from "./serverClients.js";

/**
 * The SetMap of the issue: 17 keys of 60 000-character strings, 1 020 085 bytes of keys
 * plus value JSON, just inside the default maxSessionBytes (1 MiB) and maxValueBytes (64 KiB).
 */
export function mebibyteSetMap(seed: number): Record<string, string> {
  const data: Record<string, string> = {};
  for (let k = 0; k < 17; k++)
    data[`k${String(k).padStart(2, "0")}`] = `${seed}:${k}:`.padEnd(60_000, "x");
  return data;
}

export interface AbuseResult {
  /** SetMaps answered OK. */
  accepted: number;
  /** The sessions they made. */
  ids: string[];
  /** Status codes of the refused ones, by code. */
  refused: Map<number, number>;
  /** The first refusal's message, if any. */
  firstRefusal?: string;
}

/**
 * Sends SetMaps without a session id (each makes a new session), `concurrency` at a time,
 * until `stop()` says so. Every refusal is counted by status code; a dead server ends it
 * with UNAVAILABLE (14) answers.
 */
export async function abuse(
  address: string,
  stop: (result: AbuseResult) => boolean,
  concurrency = 8,
): Promise<AbuseResult> {
  const client: SessionServiceClient = sessionClient(address);
  const result: AbuseResult = { accepted: 0, ids: [], refused: new Map() };
  let seed = 0;
  const worker = async () => {
    while (!stop(result)) {
      try {
        const { headers } = await unary(client, client.setMap, { data: mebibyteSetMap(seed++) });
        result.accepted++;
        result.ids.push(String(headers.get("x-session-id")[0]));
      } catch (err) {
        const code = (err as ServiceError).code;
        result.refused.set(code, (result.refused.get(code) ?? 0) + 1);
        result.firstRefusal ??= `${code} ${(err as ServiceError).details}`;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    client.close();
  }
  return result;
}
