import { credentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";

export type Client = InstanceType<typeof SessionServiceClient>;

export function connect(port: number): Client {
  return new SessionServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

/**
 * One unary call through the real grpc-js client, with the session id in metadata. Rejects
 * with the gRPC status when it is not OK: that is what h2load cannot see.
 */
export function call<Res>(
  client: Client,
  method: string,
  request: unknown,
  sessionId: string | undefined,
): Promise<Res> {
  const md = new Metadata();
  if (sessionId !== undefined) md.set("x-session-id", sessionId);
  const fn = (client as unknown as Record<string, (...a: unknown[]) => unknown>)[method];
  return new Promise((resolve, reject) => {
    fn.call(
      client,
      request,
      md,
      { deadline: Date.now() + 10_000 },
      (err: ServiceError | null, res: Res) => {
        if (err) reject(new Error(`${method} failed: ${err.code} ${err.details}`));
        else resolve(res);
      },
    );
  });
}
