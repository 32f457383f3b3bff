/**
 * Runs a handler body and reports its outcome exactly once: a synchronous throw, a
 * rejection and a resolution all end up in one of the two callbacks. grpc-js ignores the
 * promise a handler returns, so every wrapper in this folder is built on this.
 */
export function settle<A, T>(
  fn: (arg: A) => Promise<T> | T,
  arg: A,
  onValue: (value: T) => void,
  onError: (err: unknown) => void,
): void {
  let result: Promise<T> | T;
  try {
    result = fn(arg);
  } catch (err) {
    onError(err);
    return;
  }
  Promise.resolve(result).then(onValue, onError);
}
