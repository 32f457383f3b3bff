/**
 * Request records are keyed with a secret (Manager's requestIdSecret): the same request id
 * under two secrets gets two record names, and the session id a create issued does not
 * open with a key derived from the request id alone. Seen through the public API, on the
 * files a FileStorage writes (a create's record is a file of its own, named after it).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ConfigError } from "../../src/core/ConfigError.js";
import { silentLogger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { Manager } from "../../src/core/session/Manager.js";
import { HashedIdStorage } from "../../src/core/storage/HashedIdStorage.js";
import { FileStorage } from "../../src/file/FileStorage.js";
import { oldRecordName, unsealWithRequestIdAlone } from "../support/oldRequestIdScheme.js";

const RID = "checkout-0000000000473921";

/** A create under RID through a Manager with `secret`; the directory's files afterwards. */
async function createUnder(secret: Buffer | undefined) {
  const dir = mkdtempSync(join(tmpdir(), "sessiond-ridsecret-"));
  // As the server stores them: under hashed ids, so no file name is a session id.
  const storage = new FileStorage({ dir, logger: silentLogger, idHashKey: randomBytes(32) });
  const manager = new Manager({
    storage,
    ...(secret === undefined ? {} : { requestIdSecret: secret }),
  });
  try {
    const session = manager.session();
    session.setRequestId(RID, { scope: "Set" });
    session.set("cart", 3);
    await session.commit();
    const names = readdirSync(dir).filter((name) => name.startsWith("_r_"));
    const texts = readdirSync(dir).flatMap((name) => [
      name,
      readFileSync(join(dir, name), "latin1"),
    ]);
    return { id: session.id as string, names, texts, storage, manager };
  } finally {
    await storage.close();
  }
}

describe("request-id secret", () => {
  test("the same request id under two secrets gets two record names; one secret, one name", async () => {
    const a = randomBytes(32);
    const first = await createUnder(a);
    const again = await createUnder(a);
    const other = await createUnder(randomBytes(32));
    assert.equal(first.names.length, 1, String(first.names));
    assert.deepEqual(again.names, first.names);
    assert.equal(other.names.length, 1);
    assert.notDeepEqual(other.names, first.names);
    // Nor is it the name a plain hash of the request id gives.
    assert.ok(!first.texts.join("\n").includes(oldRecordName(RID)));
  });

  test("the issued session id does not open with a key derived from the request id alone", async () => {
    const run = await createUnder(randomBytes(32));
    assert.ok(!run.texts.join("\n").includes(run.id), "the id itself is never stored");
    assert.deepEqual(unsealWithRequestIdAlone(run.texts, RID), []);
  });

  test("a secret shorter than 32 bytes, or not a secret at all, is a ConfigError naming the option", () => {
    for (const bad of [Buffer.alloc(31), "x".repeat(40), 42]) {
      assert.throws(
        () => new Manager({ requestIdSecret: bad as unknown as Buffer }),
        (err: unknown) =>
          err instanceof ConfigError &&
          err.option === "requestIdSecret" &&
          /at least 32 bytes/.test(err.message),
      );
    }
    new Manager({ requestIdSecret: Buffer.alloc(32, 1) });
  });

  test("default: Managers over one HashedIdStorage share records; over a bare storage each keeps its own", async () => {
    const replayedBy = async (first: Manager, second: Manager) => {
      const rid = randomBytes(16).toString("hex");
      const one = first.session();
      one.setRequestId(rid);
      one.increment("n", 1);
      await one.commit();
      // A retry of the create: no session id yet, the same request id and request.
      const two = second.session();
      two.setRequestId(rid);
      two.increment("n", 1);
      const result = await two.commit();
      if (result?.replayed === true) assert.equal(two.id, one.id);
      return result?.replayed === true;
    };
    const key = randomBytes(32);
    const shared = new FileStorage({
      dir: mkdtempSync(join(tmpdir(), "sessiond-ridsecret-")),
      logger: silentLogger,
      ids: "raw", // wrapped below
    });
    const hashedA = new Manager({ storage: new HashedIdStorage(shared, key) });
    const hashedB = new Manager({ storage: new HashedIdStorage(shared, key) });
    assert.equal(await replayedBy(hashedA, hashedB), true);
    const bare = new MemoryStorage();
    assert.equal(
      await replayedBy(new Manager({ storage: bare }), new Manager({ storage: bare })),
      false,
    );
    // An explicit secret makes bare-storage Managers agree.
    const secret = randomBytes(32);
    assert.equal(
      await replayedBy(
        new Manager({ storage: bare, requestIdSecret: secret }),
        new Manager({ storage: bare, requestIdSecret: secret }),
      ),
      true,
    );
    await shared.close();
    await bare.close();
  });
});
