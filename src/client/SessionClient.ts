import type { ChannelCredentials, ClientOptions } from "@grpc/grpc-js";
import { ConfigError } from "../core/ConfigError.js";
import type { SessionServiceClient } from "../gen/sessiond/v1/session.js";
import { assertValidMetadataKey, DEFAULT_METADATA_KEY } from "../protocol/metadataKey.js";
import { type ClientTlsOptions, connectionOptions, type TokenOption } from "./connectionOptions.js";
import { ExactSessionServiceClient } from "./exactSessionServiceClient.js";
import { SessionHandle } from "./SessionHandle.js";

export const DEFAULT_DEADLINE_MS = 5000;

export interface SessionClientOptions {
  /** Default: plaintext, or TLS as `tls` says. Not together with `tls`. */
  credentials?: ChannelCredentials;
  /** TLS: `true` checks the server against the system's CAs; see ClientTlsOptions. */
  tls?: boolean | ClientTlsOptions;
  /** Sent as `authorization: Bearer <token>` on every call (docs/security.md). */
  token?: TokenOption;
  /** Deadline of every call unless the call says otherwise. Default 5000 ms. */
  deadlineMs?: number;
  /** Metadata key of the session id; must match the server's. Default "x-session-id". */
  metadataKey?: string;
  /** grpc-js channel options. */
  channelOptions?: Partial<ClientOptions>;
}

/**
 * The Node SDK for sessiond.v1.SessionService: one channel, any number of per-session
 * handles. Failed calls reject with grpc-js's ServiceError (`code` is the gRPC status).
 */
export class SessionClient {
  /** The generated client, for anything the handles do not cover. */
  readonly raw: SessionServiceClient;
  readonly deadlineMs: number;
  readonly metadataKey: string;

  constructor(address: string, options: SessionClientOptions = {}) {
    this.deadlineMs = options.deadlineMs ?? DEFAULT_DEADLINE_MS;
    if (!Number.isFinite(this.deadlineMs) || this.deadlineMs <= 0) {
      throw new ConfigError(
        `deadlineMs must be a positive number of milliseconds, got ${this.deadlineMs}`,
      );
    }
    this.metadataKey = options.metadataKey ?? DEFAULT_METADATA_KEY;
    assertValidMetadataKey(this.metadataKey);
    const connection = connectionOptions(options);
    this.raw = new ExactSessionServiceClient(
      address,
      connection.credentials,
      connection.channelOptions,
    );
  }

  /** A handle on one session: `id` is the one to resume, or none to start without one. */
  session(id?: string): SessionHandle {
    return new SessionHandle(this, id);
  }

  close(): void {
    this.raw.close();
  }
}
