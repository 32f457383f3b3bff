import { protoMetadata, SessionServiceService } from "../gen/sessiond/v1/session.js";
import { exactDeserialize, exactSerialize } from "./jsonFields.js";
import { methodFieldsByPath } from "./messageFields.js";
import { strictDeserialize } from "./strictDeserialize.js";

/**
 * The generated SessionService definition with exact coding; serve it with
 * sessionServiceImplementation (the Node SDK's client is built from it too).
 *
 * - Requests are decoded strictly (see strictDeserialize): unknown fields, wrong wire
 *   types, a message field sent twice, strings that are not UTF-8 and malformed JSON
 *   values are refused with INVALID_ARGUMENT naming the field, never dropped or altered.
 *   Unknown fields are refused rather than ignored because each field of this API carries
 *   a guarantee: a newer client's `expected_version`-like field dropped by an older server
 *   would turn a checked write into an unchecked one without a word.
 * - google.protobuf.Value and Struct fields, in requests and responses, are coded by
 *   decodeJsonWire/encodeJsonWire, which keep every key ("__proto__" included) as an own
 *   property of a plain object.
 */
export const sessionServiceDefinition = exactDefinition(SessionServiceService);

/** What this file changes in a method of the generated definition, whatever its messages. */
interface Method {
  path: string;
  requestSerialize: (message: unknown) => Buffer;
  requestDeserialize: (bytes: Buffer) => unknown;
  responseSerialize: (message: unknown) => Buffer;
  responseDeserialize: (bytes: Buffer) => unknown;
}

function exactDefinition(service: typeof SessionServiceService): typeof SessionServiceService {
  const fieldsByPath = methodFieldsByPath("sessiond.v1.SessionService", protoMetadata);
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service as Record<string, Method>)) {
    const fields = fieldsByPath.get(method.path);
    if (fields === undefined) throw new Error(`descriptor set lacks ${method.path}`);
    const { request, response } = fields;
    out[name] = {
      ...method,
      requestSerialize: exactSerialize(method.requestSerialize, request),
      requestDeserialize: strictDeserialize(method.requestDeserialize, request),
      responseSerialize: exactSerialize(method.responseSerialize, response),
      responseDeserialize: exactDeserialize(method.responseDeserialize, response),
    };
  }
  return out as typeof SessionServiceService;
}
