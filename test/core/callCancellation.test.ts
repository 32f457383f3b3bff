// CallCancellation is the light CallSignal the gRPC adapters give each call; the storages
// see it only through the helpers in cancellation.ts, which must treat it as they treat
// an AbortSignal.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SessionError } from "../../src/core/SessionError.js";
import {
  abortable,
  CallCancellation,
  callAborted,
  throwIfCancelled,
  toAbortSignal,
} from "../../src/core/storage/cancellation.js";

test("aborts once: listeners run in order, then never again; the first reason stays", () => {
  const signal = new CallCancellation();
  const heard: string[] = [];
  const second = () => heard.push("second");
  signal.addEventListener("abort", () => heard.push("first"));
  signal.addEventListener("abort", second);
  signal.addEventListener("abort", () => heard.push("third"));
  signal.removeEventListener("abort", second);
  assert.equal(signal.aborted, false);
  const reason = callAborted("deadline_exceeded");
  signal.abort(reason);
  signal.abort(callAborted("cancelled"));
  signal.addEventListener("abort", () => heard.push("late"));
  assert.deepEqual(heard, ["first", "third"]);
  assert.equal(signal.aborted, true);
  assert.equal(signal.reason, reason);
});

test("the storage helpers read it as they read an AbortSignal", async () => {
  const signal = new CallCancellation();
  throwIfCancelled(signal);
  let settle: (value: string) => void = () => {};
  const pending = abortable(
    new Promise<string>((resolve) => (settle = resolve)),
    signal,
    "writing",
  );
  signal.abort(callAborted("deadline_exceeded"));
  await assert.rejects(pending, (err: unknown) => {
    assert.ok(err instanceof SessionError, `not a SessionError: ${String(err)}`);
    assert.equal(err.code, "deadline_exceeded");
    assert.match(err.message, /whether it was applied is unknown/);
    return true;
  });
  settle("too late");
  assert.throws(() => throwIfCancelled(signal), /nothing was sent/);
  const done = new CallCancellation();
  assert.equal(await abortable(Promise.resolve("ok"), done, "reading"), "ok");
});

test("toAbortSignal gives a real AbortSignal that follows it", () => {
  const native = new AbortController().signal;
  assert.equal(toAbortSignal(native), native, "an AbortSignal is passed through");
  const signal = new CallCancellation();
  const converted = toAbortSignal(signal);
  assert.ok(converted instanceof AbortSignal, "not an AbortSignal");
  assert.equal(converted.aborted, false);
  const reason = callAborted("cancelled");
  signal.abort(reason);
  assert.equal(converted.aborted, true);
  assert.equal(converted.reason, reason);
  const already = new CallCancellation();
  already.abort(reason);
  assert.equal(toAbortSignal(already).aborted, true);
});
