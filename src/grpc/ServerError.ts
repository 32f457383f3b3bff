import type { status } from "@grpc/grpc-js";

/**
 * An error a handler throws to answer with a specific status code and message, as in
 * nice-grpc. The message goes to the client verbatim, so it must not carry secrets.
 */
export class ServerError extends Error {
  override readonly name = "ServerError";

  constructor(
    readonly code: status,
    readonly details: string,
  ) {
    super(details);
  }
}
