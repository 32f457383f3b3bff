// `node --import ./test/support/grpcJsSwap.mjs`: every ES import of @grpc/grpc-js (ours and
// the tests') resolves to another installed copy, SESSIOND_GRPC_JS (default: the oldest
// release package.json claims, installed as @grpc/grpc-js-oldest). Prints the version it
// swapped in, so a caller can tell the swap happened.
import { readFileSync } from "node:fs";
import { register } from "node:module";

const target = process.env.SESSIOND_GRPC_JS ?? "@grpc/grpc-js-oldest";
register("./grpcJsSwapHooks.mjs", import.meta.url, { data: { target } });
const entry = new URL(import.meta.resolve("@grpc/grpc-js"));
const manifest = new URL("../../package.json", entry);
const { version } = JSON.parse(readFileSync(manifest, "utf8"));
process.stderr.write(`grpc-js swapped: ${version} from ${manifest.pathname}\n`);
