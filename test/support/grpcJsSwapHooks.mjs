// Module hooks for grpcJsSwap.mjs (they run on Node's hooks thread).
let target;

export function initialize(data) {
  target = data.target;
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === "@grpc/grpc-js") return nextResolve(target, context);
  return nextResolve(specifier, context);
}
