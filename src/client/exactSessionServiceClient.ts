import { makeGenericClientConstructor } from "@grpc/grpc-js";
import type { SessionServiceClient } from "../gen/sessiond/v1/session.js";
import { sessionServiceDefinition } from "../protocol/sessionServiceDefinition.js";

/**
 * The generated client, built from the exact definition the server serves: Value and
 * Struct fields are coded so that every key, "__proto__" included, survives the trip
 * both ways (the generated code drops that key when it encodes or decodes a Struct).
 */
export const ExactSessionServiceClient = makeGenericClientConstructor(
  sessionServiceDefinition,
  "sessiond.v1.SessionService",
) as unknown as typeof SessionServiceClient;
