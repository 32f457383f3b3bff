import {
  type ChannelOptions,
  Client,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";

export type SessionClient = InstanceType<typeof SessionServiceClient>;

/**
 * Reconnect quickly: the run restarts sessiond on purpose, and grpc-js's default backoff
 * (1 s growing to 120 s) would leave clients idle long after the server is back.
 */
const CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.initial_reconnect_backoff_ms": 100,
  "grpc.max_reconnect_backoff_ms": 1000,
  "grpc.max_receive_message_length": 8 * 1024 * 1024,
  // Each client its own connection, so that one slow or broken call does not stand for all.
  "grpc.use_local_subchannel_pool": 1,
};

export function connect(address: string): SessionClient {
  return new SessionServiceClient(address, credentials.createInsecure(), CHANNEL_OPTIONS);
}

export function connectRaw(address: string): Client {
  return new Client(address, credentials.createInsecure(), CHANNEL_OPTIONS);
}

export interface Outcome<Res> {
  response?: Res;
  /** Status code; status.OK with a response. */
  code: status;
  details: string;
}

/**
 * Codes after which a write may or may not have been applied: the call died somewhere
 * between the client and the storage. Every other failure is a definite refusal.
 */
export function outcomeUnknown(code: status): boolean {
  return (
    code === status.UNAVAILABLE ||
    code === status.DEADLINE_EXCEEDED ||
    code === status.CANCELLED ||
    code === status.INTERNAL ||
    code === status.UNKNOWN
  );
}

type UnaryMethod = (
  req: unknown,
  md: Metadata,
  options: { deadline: number },
  cb: (err: ServiceError | null, res: unknown) => void,
) => unknown;

/** One unary call of the generated client; never rejects, the status is in the outcome. */
export function unary<Res>(
  client: SessionClient,
  method: string,
  request: unknown,
  sessionId: string | undefined,
  deadlineMs: number,
): Promise<Outcome<Res>> {
  const md = new Metadata();
  if (sessionId !== undefined) md.set("x-session-id", sessionId);
  const fn = (client as unknown as Record<string, UnaryMethod>)[method];
  return new Promise((resolve) => {
    fn.call(client, request, md, { deadline: Date.now() + deadlineMs }, (err, res) => {
      if (err) resolve({ code: err.code, details: err.details });
      else resolve({ response: res as Res, code: status.OK, details: "" });
    });
  });
}

/** One unary call with the request given as raw protobuf bytes (to send what no encoder would). */
export function unaryBytes(
  client: Client,
  path: string,
  bytes: Uint8Array,
  metadata: Metadata,
  deadlineMs: number,
): Promise<Outcome<Buffer>> {
  return new Promise((resolve) => {
    client.makeUnaryRequest(
      path,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => b,
      bytes,
      metadata,
      { deadline: Date.now() + deadlineMs },
      (err, res) => {
        if (err) resolve({ code: err.code, details: err.details });
        else resolve({ response: res, code: status.OK, details: "" });
      },
    );
  });
}

export const statusName = (code: status): string => status[code] ?? String(code);
