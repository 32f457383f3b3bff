import { SessionError } from "../SessionError.js";

/**
 * Cancellation, as every layer sees it: a caller's AbortSignal travels with each storage
 * call (CallOptions.signal). Once it is aborted no storage command starts; a command
 * already sent cannot be called back, so a call cut short then says its outcome is
 * unknown. The reason the signal was aborted with decides the code: abort with
 * `callAborted("deadline_exceeded")` for a deadline, anything else reads as cancelled.
 */

/** The reason to abort a call's controller with. */
export function callAborted(
  code: "cancelled" | "deadline_exceeded",
  why = code === "cancelled" ? "the caller cancelled the call" : "the call's deadline passed",
): SessionError {
  return new SessionError(code, why);
}

/** Throws when `signal` is aborted: nothing was sent, nothing was applied. */
export function throwIfCancelled(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw cancelledError(signal, false);
}

/**
 * The error of a call cut short by `signal`. `sent`: a command had gone to the storage
 * already, which may still apply it.
 */
export function cancelledError(signal: AbortSignal, sent: boolean): SessionError {
  const reason: unknown = signal.reason;
  const code =
    reason instanceof SessionError && reason.code === "deadline_exceeded"
      ? "deadline_exceeded"
      : "cancelled";
  const why = reason instanceof SessionError ? reason.message : callAborted(code).message;
  return new SessionError(
    code,
    sent
      ? `${why}; the storage command was already sent: whether it was applied is unknown`
      : `${why}; nothing was sent to the storage`,
  );
}

/**
 * `promise`, or a rejection with cancelledError as soon as `signal` aborts (whatever
 * `promise` does later is ignored). `sent` as for cancelledError.
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: AbortSignal | undefined,
  sent: boolean,
): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(cancelledError(signal, sent));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(cancelledError(signal, sent));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}
