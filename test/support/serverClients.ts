import {
  type Client,
  credentials,
  Metadata,
  makeClientConstructor,
  type ServiceDefinition,
  type ServiceError,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";

/** grpc.health.v1.Health/Check over a real channel; resolves the status name. */
export async function checkHealth(
  address: string,
  service = "",
  metadata = new Metadata(),
): Promise<string> {
  const Health = makeClientConstructor(healthService as ServiceDefinition, "Health");
  const client = new Health(address, credentials.createInsecure()) as unknown as Client & {
    check(
      request: { service: string },
      metadata: Metadata,
      options: { deadline: number },
      callback: (err: ServiceError | null, response?: { status: string }) => void,
    ): void;
  };
  try {
    return await new Promise((resolve, reject) =>
      client.check({ service }, metadata, { deadline: Date.now() + 5000 }, (err, response) =>
        err ? reject(err) : resolve(response?.status ?? ""),
      ),
    );
  } finally {
    client.close();
  }
}

/** Polls Check until it reports `want` (health changes asynchronously) or times out. */
export async function waitForHealth(
  address: string,
  service: string,
  want: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    last = await checkHealth(address, service);
    if (last === want) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`health of "${service}" stayed ${last}, expected ${want}`);
}

export interface UnaryResult<T> {
  response: T;
  headers: Metadata;
}

type Method<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: number },
  callback: (err: ServiceError | null, response: Res) => void,
) => { on(event: "metadata", listener: (md: Metadata) => void): unknown };

/** A generated-client unary call as a promise, with the response headers. */
export function unary<Req, Res>(
  client: SessionServiceClient,
  method: Method<Req, Res>,
  request: Req,
  sessionId?: string,
): Promise<UnaryResult<Res>> {
  const metadata = new Metadata();
  if (sessionId !== undefined) metadata.set("x-session-id", sessionId);
  return new Promise((resolve, reject) => {
    let headers = new Metadata();
    const call = method.call(
      client,
      request,
      metadata,
      { deadline: Date.now() + 10_000 },
      (err, response) => (err ? reject(err) : resolve({ response, headers })),
    );
    call.on("metadata", (md) => {
      headers = md;
    });
  });
}

export function sessionClient(address: string): SessionServiceClient {
  return new SessionServiceClient(address, credentials.createInsecure());
}
