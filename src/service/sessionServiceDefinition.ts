import { BinaryReader } from "@bufbuild/protobuf/wire";
import { SessionError } from "../common/SessionError.js";
import { SessionServiceService } from "../gen/sessiond/v1/session.js";
import { structWireProblem, valueWireProblem, wireTypeName } from "./jsonWireProblem.js";
import { type RequestFields, requestFieldsByPath } from "./requestFields.js";

const PROBLEM = Symbol("sessiond.requestProblem");

/** What a strict deserializer hands the handler instead of a message it must refuse. */
interface Refused {
  [PROBLEM]: string;
}

/** A check of one length-delimited field's bytes, by field number. */
type NestedChecks = ReadonlyMap<number, (bytes: Uint8Array) => string | undefined>;

const NESTED: Record<string, NestedChecks> = {
  set: new Map([[2, (b) => valueWireProblem(b, "value")]]),
  setMap: new Map([[1, (b) => structWireProblem(b, "data")]]),
};

/**
 * The generated SessionService definition with strict request decoding; serve it with
 * sessionServiceImplementation. The generated decoder silently skips fields it does not
 * know (or that arrive with the wrong wire type) and silently drops some malformed JSON
 * values (see jsonWireProblem); grpc-js answers a deserializer that throws with INTERNAL.
 * So here every refusal is handed to the handler, which answers INVALID_ARGUMENT naming
 * the problem. Unknown fields are refused rather than ignored because each field of this
 * API carries a guarantee: a newer client's `expected_version`-like field dropped by an
 * older server would turn a checked write into an unchecked one without a word.
 */
export const sessionServiceDefinition = strictDefinition(SessionServiceService);

/** Throws invalid_argument when the strict definition refused the request's bytes. */
export function assertWellFormedRequest(request: object): void {
  const problem = (request as Partial<Refused>)[PROBLEM];
  if (problem !== undefined) throw new SessionError("invalid_argument", problem);
}

function strictDefinition(service: typeof SessionServiceService): typeof SessionServiceService {
  const fieldsByPath = requestFieldsByPath("sessiond.v1.SessionService");
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    const fields = fieldsByPath.get(method.path);
    if (fields === undefined) throw new Error(`descriptor set lacks ${method.path}`);
    const nested = NESTED[name] ?? new Map();
    out[name] = {
      ...method,
      requestDeserialize: strict(method.requestDeserialize, (b) =>
        requestProblem(b, fields, nested),
      ),
    };
  }
  return out as typeof SessionServiceService;
}

function strict<T>(
  decode: (bytes: Buffer) => T,
  check: (bytes: Buffer) => string | undefined,
): (bytes: Buffer) => T {
  return (bytes) => {
    let problem: string | undefined;
    try {
      problem = check(bytes);
      if (problem === undefined) return decode(bytes);
    } catch (err) {
      problem = `malformed request: ${err instanceof Error ? err.message : String(err)}`;
    }
    return { [PROBLEM]: problem } as Refused as T;
  };
}

/** The first field that the message does not declare, has the wrong wire type or fails its nested check. */
function requestProblem(
  bytes: Uint8Array,
  { typeName, fields }: RequestFields,
  nested: NestedChecks,
): string | undefined {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [number, type] = reader.tag();
    const field = fields.get(number);
    if (field === undefined) {
      return `unknown field ${number} in ${typeName}: this server does not support it (is the client built from a newer sessiond.v1 proto?)`;
    }
    if (!field.wireTypes.includes(type)) {
      return `field ${field.name} (${number}) of ${typeName} arrived as ${wireTypeName(type)}, expected ${field.wireTypes.map(wireTypeName).join(" or ")}`;
    }
    const check = nested.get(number);
    if (check === undefined) {
      reader.skip(type, number);
      continue;
    }
    const problem = check(reader.bytes());
    if (problem !== undefined) return problem;
  }
  return undefined;
}
