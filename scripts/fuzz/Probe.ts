import { Metadata, type ServiceError, status } from "@grpc/grpc-js";
import type { SessionServiceClient } from "../../src/gen/sessiond/v1/session.js";
import type { Control, Setup } from "./generateCase.js";
import { baseHeaders } from "./generateFrame.js";
import { grpcFrame, type H2Connection } from "./h2Call.js";
import { type Data, decodeStruct } from "./jsonModel.js";
import { ResponseFields } from "./responseFields.js";

/** A session as it is in the server: absent, or its version, size and data. */
export type Seen =
  | { exists: false }
  | { exists: true; id: string; version: number; size: number; data: Data };

/**
 * Sets up and looks at sessions the way a well-behaved caller does: writes and Describe
 * through the generated grpc-js client; GetData's bytes read by hand (jsonModel explains why).
 */
export class Probe {
  readonly #client: SessionServiceClient;
  readonly #conn: H2Connection;

  constructor(client: SessionServiceClient, conn: H2Connection) {
    this.#client = client;
    this.#conn = conn;
  }

  async create(setup: Setup): Promise<Control> {
    const set = await this.#unary<{ sessionId: string; version: bigint }>("setMap", {
      data: setup.data,
    });
    const id = set.sessionId;
    for (let i = 0; i < setup.bumps; i++) {
      // The same value again: the data stays as generated, the version moves on.
      const first = Object.keys(setup.data)[0] as string;
      await this.#unary("set", { key: first, value: setup.data[first] }, id);
    }
    const seen = await this.look(id);
    if (!seen.exists) throw new Error("the control session vanished right after it was written");
    return { id, data: seen.data, version: seen.version };
  }

  async look(id: string): Promise<Seen> {
    let described: { sessionId: string; version: bigint; size: number };
    try {
      described = await this.#unary("describe", {}, id);
    } catch (err) {
      if ((err as ServiceError).code === status.NOT_FOUND) return { exists: false };
      throw err;
    }
    const outcome = await this.#conn.send({
      headers: { ...baseHeaders("/sessiond.v1.SessionService/GetData"), "x-session-id": id },
      chunks: [grpcFrame(new Uint8Array())],
      finish: "end",
    });
    if (outcome.kind !== "status" || outcome.code !== status.OK) {
      throw new Error(
        `GetData of a described session failed: ${JSON.stringify(outcome).slice(0, 300)}`,
      );
    }
    const fields = new ResponseFields(outcome.messages[0] ?? new Uint8Array());
    const struct = fields.bytes(1);
    return {
      exists: true,
      id: described.sessionId,
      version: Number(described.version),
      size: described.size,
      data: struct === undefined ? {} : decodeStruct(struct),
    };
  }

  #unary<T>(method: "setMap" | "set" | "describe", request: object, id?: string): Promise<T> {
    const metadata = new Metadata();
    if (id !== undefined) metadata.set("x-session-id", id);
    const fn = this.#client[method] as unknown as (
      req: object,
      md: Metadata,
      options: { deadline: number },
      cb: (err: ServiceError | null, res: T) => void,
    ) => void;
    return new Promise((resolve, reject) => {
      fn.call(this.#client, request, metadata, { deadline: Date.now() + 20_000 }, (err, res) =>
        err ? reject(err) : resolve(res),
      );
    });
  }
}
