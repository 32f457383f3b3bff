import {
  type ChannelCredentials,
  Client,
  credentials,
  Metadata,
  type ServiceError,
  status,
} from "@grpc/grpc-js";
import { reasonOf } from "../../src/client/reasonOf.js";
import { sessionServiceDefinition } from "../../src/protocol/sessionServiceDefinition.js";

/** A valid request for every SessionService method, by method name. */
export const REQUESTS: Record<string, object> = {
  Get: { key: "k" },
  GetData: {},
  Contains: { key: "k" },
  Size: {},
  Describe: {},
  Set: { key: "k", value: 1 },
  SetMap: { data: { a: 1 } },
  Remove: { keys: ["k"] },
  Increment: { key: "n", delta: 1 },
  Touch: {},
  Regenerate: {},
  RemoveAll: {},
};

export const READ_METHODS = ["Get", "GetData", "Contains", "Size", "Describe"];
export const WRITE_METHODS = [
  "Set",
  "SetMap",
  "Remove",
  "Increment",
  "Touch",
  "Regenerate",
  "RemoveAll",
];

interface MethodDefinition {
  path: string;
  requestSerialize(message: unknown): Buffer;
  responseDeserialize(bytes: Buffer): unknown;
}

/** Every method of the definition, by its name on the wire ("GetData"). */
export function sessionMethods(): Map<string, MethodDefinition> {
  const methods = new Map<string, MethodDefinition>();
  for (const method of Object.values(sessionServiceDefinition) as MethodDefinition[]) {
    methods.set(method.path.split("/").at(-1) as string, method);
  }
  return methods;
}

export interface Outcome {
  code: status;
  details: string;
}

/** Everything a unary call got back. */
export interface Answer extends Outcome {
  response: Record<string, unknown> | undefined;
  /** Headers and trailers, as JSON text (to look for what must not be there). */
  metadata: string;
  /** The ErrorInfo reason in the status details, if any. */
  reason: string | undefined;
}

/** One unary call of method `name` with `headers`; resolves its status (OK included). */
export async function callMethod(
  client: Client,
  name: string,
  headers: Record<string, string> = {},
): Promise<Outcome> {
  const { code, details } = await callWith(client, name, REQUESTS[name] ?? {}, headers);
  return { code, details };
}

/** One unary call of method `name` with `request` and `headers`, and all that came back. */
export function callWith(
  client: Client,
  name: string,
  request: object,
  headers: Record<string, string>,
): Promise<Answer> {
  const method = sessionMethods().get(name);
  if (method === undefined) throw new Error(`no method ${name}`);
  const metadata = new Metadata();
  for (const [key, value] of Object.entries(headers)) metadata.set(key, value);
  return new Promise((resolve) => {
    const seen: Metadata[] = [];
    let response: Record<string, unknown> | undefined;
    let error: ServiceError | null = null;
    const call = client.makeUnaryRequest(
      method.path,
      method.requestSerialize,
      method.responseDeserialize,
      request,
      metadata,
      { deadline: Date.now() + 10_000 },
      (err: ServiceError | null, res?: unknown) => {
        error = err;
        response = (res ?? undefined) as Record<string, unknown> | undefined;
      },
    );
    call.on("metadata", (m: Metadata) => seen.push(m));
    call.on("status", (st: { metadata: Metadata }) => {
      seen.push(st.metadata);
      // The callback runs before "status": read both on the next turn.
      setImmediate(() =>
        resolve({
          code: error?.code ?? status.OK,
          details: error?.details ?? "",
          response,
          metadata: JSON.stringify(seen.map((m) => m.toJSON())),
          reason: reasonOf(error)?.reason,
        }),
      );
    });
  });
}

export function rawClient(
  address: string,
  creds: ChannelCredentials = credentials.createInsecure(),
  options = {},
): Client {
  return new Client(address, creds, options);
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
