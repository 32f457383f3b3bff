import { SessionError } from "../SessionError.js";
import type { CallSignal } from "./Storage.js";

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

/**
 * How far a call had got when it was cut short: nothing sent yet; a command sent that
 * only reads (the storage may still slide the expiry, never change data); a write sent,
 * which the storage may still apply.
 */
export type CancelStage = "unsent" | "reading" | "writing";

const AFTER: Record<CancelStage, string> = {
  unsent: "nothing was sent to the storage",
  reading: "a read was in flight; nothing was written",
  writing: "the storage command was already sent: whether it was applied is unknown",
};

/** Throws when `signal` is aborted: nothing was sent, nothing was applied. */
export function throwIfCancelled(signal: CallSignal | undefined): void {
  if (signal?.aborted) throw cancelledError(signal, "unsent");
}

/** The error of a call cut short by `signal` at `stage`. */
export function cancelledError(signal: CallSignal, stage: CancelStage): SessionError {
  const reason: unknown = signal.reason;
  const code =
    reason instanceof SessionError && reason.code === "deadline_exceeded"
      ? "deadline_exceeded"
      : "cancelled";
  const why = reason instanceof SessionError ? reason.message : callAborted(code).message;
  return new SessionError(code, `${why}; ${AFTER[stage]}`);
}

/**
 * `promise`, or a rejection with cancelledError as soon as `signal` aborts (whatever
 * `promise` does later is ignored).
 */
export function abortable<T>(
  promise: Promise<T>,
  signal: CallSignal | undefined,
  stage: CancelStage,
): Promise<T> {
  if (signal === undefined) return promise;
  if (signal.aborted) {
    promise.catch(() => {});
    return Promise.reject(cancelledError(signal, stage));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(() => {});
      reject(cancelledError(signal, stage));
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

/**
 * A call's cancellation without an AbortSignal: what the gRPC adapters give each call.
 * Aborted at most once; its listeners run then, in the order they were added.
 */
export class CallCancellation implements CallSignal {
  #aborted = false;
  #reason: unknown;
  #listeners: (() => void)[] | undefined;

  get aborted(): boolean {
    return this.#aborted;
  }

  get reason(): unknown {
    return this.#reason;
  }

  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    for (const listener of listeners ?? []) listener();
  }

  addEventListener(_type: "abort", listener: () => void): void {
    if (this.#aborted) return;
    this.#listeners ??= [];
    this.#listeners.push(listener);
  }

  removeEventListener(_type: "abort", listener: () => void): void {
    const at = this.#listeners?.indexOf(listener) ?? -1;
    if (at >= 0) this.#listeners?.splice(at, 1);
  }
}

/** `signal` as a real AbortSignal, for APIs that want one (fetch, timers/promises). */
export function toAbortSignal(signal: CallSignal): AbortSignal {
  if (signal instanceof AbortSignal) return signal;
  const controller = new AbortController();
  if (signal.aborted) controller.abort(signal.reason);
  else signal.addEventListener("abort", () => controller.abort(signal.reason), { once: true });
  return controller.signal;
}
