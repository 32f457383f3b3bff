import { BinaryReader, WireType } from "@bufbuild/protobuf/wire";
import { SessionError } from "../common/SessionError.js";
import { SessionServiceService } from "../gen/sessiond/v1/session.js";
import { structWireProblem, valueWireProblem } from "./jsonWireProblem.js";

const PROBLEM = Symbol("sessiond.requestProblem");

/** What a strict deserializer hands the handler instead of a message it must refuse. */
interface Refused {
  [PROBLEM]: string;
}

/**
 * The generated SessionService definition with strict request decoding; serve it with
 * sessionServiceImplementation. grpc-js answers a deserializer that throws with INTERNAL,
 * and the generated decoder silently drops some malformed JSON values (see
 * jsonWireProblem), so here every refusal is handed to the handler, which answers
 * INVALID_ARGUMENT naming the problem. Unknown fields are still ignored, as proto3 wants.
 */
export const sessionServiceDefinition: typeof SessionServiceService = {
  ...mapDefinitions(SessionServiceService),
  set: {
    ...SessionServiceService.set,
    requestDeserialize: strict(SessionServiceService.set.requestDeserialize, (bytes) =>
      fieldProblem(bytes, 2, (b) => valueWireProblem(b, "value")),
    ),
  },
  setMap: {
    ...SessionServiceService.setMap,
    requestDeserialize: strict(SessionServiceService.setMap.requestDeserialize, (bytes) =>
      fieldProblem(bytes, 1, (b) => structWireProblem(b, "data")),
    ),
  },
};

/** Throws invalid_argument when the strict definition refused the request's bytes. */
export function assertWellFormedRequest(request: object): void {
  const problem = (request as Partial<Refused>)[PROBLEM];
  if (problem !== undefined) throw new SessionError("invalid_argument", problem);
}

function mapDefinitions(service: typeof SessionServiceService): typeof SessionServiceService {
  const out: Record<string, unknown> = {};
  for (const [name, method] of Object.entries(service)) {
    out[name] = { ...method, requestDeserialize: strict(method.requestDeserialize) };
  }
  return out as typeof SessionServiceService;
}

function strict<T>(
  decode: (bytes: Buffer) => T,
  check?: (bytes: Buffer) => string | undefined,
): (bytes: Buffer) => T {
  return (bytes) => {
    let problem: string | undefined;
    try {
      problem = check?.(bytes);
      if (problem === undefined) return decode(bytes);
    } catch (err) {
      problem = `malformed request: ${err instanceof Error ? err.message : String(err)}`;
    }
    return { [PROBLEM]: problem } as Refused as T;
  };
}

/** The first problem among the occurrences of length-delimited field `field`. */
function fieldProblem(
  bytes: Uint8Array,
  field: number,
  check: (bytes: Uint8Array) => string | undefined,
): string | undefined {
  const reader = new BinaryReader(bytes);
  while (reader.pos < reader.len) {
    const [f, type] = reader.tag();
    if (f === field && type === WireType.LengthDelimited) {
      const problem = check(reader.bytes());
      if (problem) return problem;
    } else {
      reader.skip(type, f);
    }
  }
  return undefined;
}
