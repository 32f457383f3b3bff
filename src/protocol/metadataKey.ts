import { ConfigError } from "../core/ConfigError.js";

/** Where the session id travels, in requests and responses, unless configured otherwise. */
export const DEFAULT_METADATA_KEY = "x-session-id";

/**
 * A session id is ASCII text, so its key must be a legal, non-binary, non-reserved gRPC
 * metadata key; refusing others at start-up beats a key grpc-js silently drops. A ConfigError:
 * every caller checks the key while it is being configured, never for a request.
 */
export function assertValidMetadataKey(key: string): void {
  if (!/^[0-9a-z_.-]+$/.test(key) || key.endsWith("-bin") || key.startsWith("grpc-")) {
    throw new ConfigError(
      `metadata key ${JSON.stringify(key)} must be lowercase [0-9a-z_.-], not end in "-bin" and not start with "grpc-"`,
    );
  }
}
