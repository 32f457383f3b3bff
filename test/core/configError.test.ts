// A configuration mistake is a ConfigError, thrown while the thing is built; a
// SessionError is a request's outcome. These four constructors used to throw SessionError.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { SessionClient } from "../../src/client/SessionClient.js";
import { ConfigError } from "../../src/core/ConfigError.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { Manager } from "../../src/core/session/Manager.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { sessionInterceptor } from "../../src/grpc/sessionInterceptor.js";

const isConfigError = (pattern: RegExp) => (err: unknown) =>
  err instanceof ConfigError && err.name === "ConfigError" && pattern.test(err.message);

describe("configuration mistakes are ConfigErrors", () => {
  test("SessionClient: deadlineMs", () => {
    assert.throws(
      () => new SessionClient("127.0.0.1:1", { deadlineMs: 0 }),
      isConfigError(/deadlineMs/),
    );
  });

  test("metadataKey: the SDK and the interceptor", () => {
    assert.throws(
      () => new SessionClient("127.0.0.1:1", { metadataKey: "grpc-x" }),
      isConfigError(/metadata key/),
    );
    const manager = new Manager({ storage: new MemoryStorage() });
    assert.throws(
      () => sessionInterceptor(manager, { metadataKey: "x-bin" }),
      isConfigError(/metadata key/),
    );
  });

  test("connectionOptions: tls and credentials, cert without key, an unset token variable", () => {
    assert.throws(
      () => new SessionClient("127.0.0.1:1", { tls: { cert: Buffer.from("x") } }),
      isConfigError(/tls\.cert and tls\.key go together/),
    );
    assert.throws(
      () =>
        new SessionClient("127.0.0.1:1", { token: { env: "SESSIOND_TEST_SURELY_UNSET_VARIABLE" } }),
      isConfigError(/SESSIOND_TEST_SURELY_UNSET_VARIABLE/),
    );
  });

  test("HashedIdStorage: a short id-hash key", () => {
    assert.throws(
      () => new HashedIdStorage(new MemoryStorage(), Buffer.alloc(31)),
      isConfigError(/at least 32 bytes/),
    );
  });
});
