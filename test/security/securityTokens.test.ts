// Caller tokens against a real server over a real channel: every RPC without a token, with
// a wrong one, with too narrow a scope, and across a rotation of the tokens file with no
// restart. Refused calls reach no storage, and no token shows in any log line.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { Metadata, status } from "@grpc/grpc-js";
import { SessionClient } from "../../src/client/SessionClient.js";
import { ConfigError } from "../../src/core/ConfigError.js";
import type { Logger } from "../../src/core/Logger.js";
import { MemoryStorage } from "../../src/core/memory/MemoryStorage.js";
import { permissionProblem } from "../../src/file/permissionProblem.js";
import { type RunningServer, startServer } from "../../src/server/startServer.js";
import {
  bearer,
  callMethod,
  READ_METHODS,
  rawClient,
  sessionMethods,
  WRITE_METHODS,
} from "../support/securityCalls.js";
import { checkHealth } from "../support/serverClients.js";
import { runCli } from "../support/serverProcess.js";
import { InstrumentedStorage } from "../support/serviceInstrumentedStorage.js";

const token = () => randomBytes(24).toString("hex");
const RW = token();
const RO = token();
const WO = token();
const ADMIN = token();
const ALL_TOKENS = [RW, RO, WO, ADMIN];

interface LogEntry {
  level: string;
  msg: string;
  fields?: Record<string, unknown>;
}

function capturingLogger(entries: LogEntry[]): Logger {
  const push = (level: string) => (msg: string, fields?: Record<string, unknown>) =>
    void entries.push({ level, msg, ...(fields ? { fields } : {}) });
  return { info: push("info"), warn: push("warn"), error: push("error") };
}

async function waitFor(entries: LogEntry[], msg: string, after: number): Promise<LogEntry> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const found = entries.slice(after).find((entry) => entry.msg === msg);
    if (found) return found;
    if (Date.now() > deadline) {
      throw new Error(`no "${msg}" log line; got:\n${JSON.stringify(entries.slice(after))}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Rewrites the file the way an operator's tooling does: a new file renamed over it. */
function replaceFile(path: string, text: string): void {
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, text, { mode: 0o600 });
  renameSync(temp, path);
}

const NARROWED =
  "auth tokens reload failed; only tokens in force that the new file still names stay valid, with the scopes both give them, until the file is fixed";
const NONE_VALID =
  "auth tokens reload failed; no token is valid now: every call that needs one is refused until the file is fixed";

const dir = mkdtempSync(join(tmpdir(), "sessiond-tokens-"));
const tokensFile = join(dir, "tokens");
const logs: LogEntry[] = [];
const storage = new InstrumentedStorage(new MemoryStorage());
let server: RunningServer;

before(async () => {
  writeFileSync(
    tokensFile,
    `# callers of the test\n${RW} read,write\n${RO} read\n\n${WO} write   # writer only\n${ADMIN} admin\n`,
    { mode: 0o600 },
  );
  server = await startServer(
    { port: 0, storage: "memory", authTokensFile: tokensFile },
    { storage, logger: capturingLogger(logs) },
  );
});

after(async () => {
  await server.shutdown();
  await storage.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("caller tokens", () => {
  test("the test covers every SessionService method", () => {
    assert.deepEqual(
      [...sessionMethods().keys()].sort(),
      [...READ_METHODS, ...WRITE_METHODS].sort(),
    );
  });

  test("every RPC without a token, with a wrong one or a malformed header is UNAUTHENTICATED, before any storage call", async () => {
    const client = rawClient(server.address);
    try {
      storage.resetCounts();
      for (const name of sessionMethods().keys()) {
        for (const headers of [
          {},
          bearer(token()),
          bearer(`${RW}x`),
          { authorization: RW },
          { authorization: `Basic ${RW}` },
        ]) {
          const outcome = await callMethod(client, name, headers);
          assert.equal(outcome.code, status.UNAUTHENTICATED, `${name} ${JSON.stringify(outcome)}`);
        }
      }
      const missing = await callMethod(client, "Get");
      assert.equal(
        missing.details,
        "missing authorization metadata: expected authorization: Bearer TOKEN",
      );
      assert.equal(
        (await callMethod(client, "Get", bearer(token()))).details,
        "unknown or revoked token",
      );
      assert.equal(storage.totalCalls - storage.calls.ping, 0, JSON.stringify(storage.calls));
    } finally {
      client.close();
    }
  });

  test("a token without the method's scope is PERMISSION_DENIED; with it the call runs", async () => {
    const client = rawClient(server.address);
    try {
      storage.resetCounts();
      for (const name of WRITE_METHODS) {
        for (const narrow of [RO, ADMIN]) {
          const outcome = await callMethod(client, name, bearer(narrow));
          assert.equal(outcome.code, status.PERMISSION_DENIED, `${name}: ${outcome.details}`);
          assert.match(
            outcome.details,
            new RegExp(`lacks the "write" scope that sessiond.v1.SessionService/${name} needs`),
          );
        }
      }
      for (const name of READ_METHODS) {
        for (const narrow of [WO, ADMIN]) {
          const outcome = await callMethod(client, name, bearer(narrow));
          assert.equal(outcome.code, status.PERMISSION_DENIED, `${name}: ${outcome.details}`);
        }
      }
      assert.equal(storage.totalCalls - storage.calls.ping, 0, JSON.stringify(storage.calls));
      // Granted: whatever the call then answers, it is not the caller check's answer.
      // Increment answers the stored value: it needs read as well as write.
      const increment = await callMethod(client, "Increment", bearer(WO));
      assert.equal(increment.code, status.PERMISSION_DENIED, increment.details);
      assert.match(increment.details, /lacks the "read" scope/);
      for (const [name, tokens] of [
        ...READ_METHODS.map((n) => [n, [RW, RO]] as const),
        ...WRITE_METHODS.map((n) => [n, n === "Increment" ? [RW] : [RW, WO]] as const),
      ]) {
        for (const good of tokens) {
          const outcome = await callMethod(client, name, bearer(good));
          assert.ok(
            outcome.code !== status.UNAUTHENTICATED && outcome.code !== status.PERMISSION_DENIED,
            `${name} with a granted token: ${JSON.stringify(outcome)}`,
          );
        }
      }
      assert.equal((await callMethod(client, "Set", bearer(WO))).code, status.OK);
    } finally {
      client.close();
    }
  });

  test("health is open; reflection needs a token", async () => {
    assert.equal(await checkHealth(server.address), "SERVING");
    const client = rawClient(server.address);
    try {
      const reflection = await new Promise<number>((resolve) => {
        const call = client.makeBidiStreamRequest(
          "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
          (b: Buffer) => b,
          (b: Buffer) => b,
        );
        call.on("data", () => {});
        call.on("error", (err: { code: number }) => resolve(err.code));
        call.on("end", () => resolve(status.OK));
        call.end();
      });
      assert.equal(reflection, status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
  });

  test("the SDK sends a token given as a string, an environment variable or a file", async () => {
    const file = join(dir, "client-token");
    writeFileSync(file, `${RW}\n`, { mode: 0o600 });
    process.env.SESSIOND_TEST_TOKEN = RW;
    const clients = [
      new SessionClient(server.address, { token: RW }),
      new SessionClient(server.address, { token: { env: "SESSIOND_TEST_TOKEN" } }),
      new SessionClient(server.address, { token: { file } }),
    ];
    try {
      for (const client of clients) {
        const session = client.session();
        await session.set("who", "sdk");
        assert.equal(await session.get("who"), "sdk");
      }
      const reader = new SessionClient(server.address, { token: RO });
      await assert.rejects(reader.session().set("x", 1), { code: status.PERMISSION_DENIED });
      reader.close();
      assert.throws(
        () => new SessionClient(server.address, { token: { env: "SESSIOND_TEST_UNSET" } }),
        { name: "ConfigError", message: /SESSIOND_TEST_UNSET/ },
      );
    } finally {
      for (const client of clients) client.close();
      delete process.env.SESSIOND_TEST_TOKEN;
    }
  });

  test("rotation without restart: overlap keeps both valid, then the old one is refused", async () => {
    const NEW = token();
    const client = rawClient(server.address);
    try {
      let mark = logs.length;
      replaceFile(
        tokensFile,
        `${RW} read,write\n${NEW} read,write\n${RO} read\n${WO} write\n${ADMIN} admin\n`,
      );
      await waitFor(logs, "auth tokens reloaded", mark);
      assert.equal((await callMethod(client, "Set", bearer(NEW))).code, status.OK);
      assert.equal((await callMethod(client, "Set", bearer(RW))).code, status.OK);

      mark = logs.length;
      replaceFile(tokensFile, `${NEW} read,write\n${RO} read\n${WO} write\n${ADMIN} admin\n`);
      await waitFor(logs, "auth tokens reloaded", mark);
      for (const name of sessionMethods().keys()) {
        const old = await callMethod(client, name, bearer(RW));
        assert.deepEqual(
          old,
          { code: status.UNAUTHENTICATED, details: "unknown or revoked token" },
          name,
        );
        const fresh = await callMethod(client, name, bearer(NEW));
        assert.ok(
          fresh.code !== status.UNAUTHENTICATED && fresh.code !== status.PERMISSION_DENIED,
          `${name} with the new token: ${JSON.stringify(fresh)}`,
        );
      }

      // A bad file is logged at error with its line number and fails closed: RO, which it
      // no longer lists, is refused; RW, revoked before, stays revoked.
      mark = logs.length;
      replaceFile(tokensFile, `${NEW} read,write\n${RW} read,wirte\n`);
      const failed = await waitFor(logs, NARROWED, mark);
      assert.equal(failed.level, "error");
      assert.match(
        String(failed.fields?.error),
        /^line 2: scopes are comma-separated read, write and admin$/,
      );
      assert.equal((await callMethod(client, "Get", bearer(RW))).code, status.UNAUTHENTICATED);
      assert.equal((await callMethod(client, "Get", bearer(RO))).code, status.UNAUTHENTICATED);
      assert.equal((await callMethod(client, "Set", bearer(NEW))).code, status.OK);

      // SIGHUP's path (reload()) picks up a change too.
      writeFileSync(tokensFile, `${RW} read,write\n${RO} read\n${WO} write\n${ADMIN} admin\n`);
      await server.reload();
      assert.equal((await callMethod(client, "Get", bearer(RW))).code, status.OK);
      assert.equal((await callMethod(client, "Get", bearer(NEW))).code, status.UNAUTHENTICATED);
    } finally {
      client.close();
    }
  });

  test("no token appears in any log line", () => {
    const text = JSON.stringify(logs);
    for (const t of ALL_TOKENS) assert.ok(!text.includes(t), "a token was logged");
    assert.ok(logs.some((entry) => entry.msg === "auth tokens loaded"));
  });

  test("refused callers are logged with the method, the code and the reason", () => {
    const refused = logs.filter((entry) => entry.msg === "caller refused");
    const reasons = refused.map((entry) => String(entry.fields?.reason));
    assert.ok(reasons.includes("unknown or revoked token"), JSON.stringify(reasons));
    assert.ok(
      reasons.some((r) => /lacks the "write" scope/.test(r)),
      `no scope refusal among ${JSON.stringify(reasons)}`,
    );
    assert.ok(refused.every((entry) => /^[A-Z_]+$/.test(String(entry.fields?.code))));
  });
});

describe("tokens file at start", () => {
  const cases: Array<[string, RegExp]> = [
    [`${RW}\n`, /line 1: expected a token and its comma-separated scopes/],
    [`# fine\n${RW} read\nshort read\n`, /line 3: a token must be at least 16 characters/],
    [`${RW} read\n${RW} write\n`, /line 2: this token is already listed on an earlier line/],
    [`${RW} read,root\n`, /line 1: scopes are comma-separated read, write and admin/],
    ["# nothing but comments\n\n", /no token in it/],
  ];
  for (const [text, expected] of cases) {
    test(`refused: ${expected.source}`, async () => {
      const file = join(dir, `bad-${randomBytes(4).toString("hex")}`);
      writeFileSync(file, text, { mode: 0o600 });
      await assert.rejects(
        startServer({ port: 0, storage: "memory", authTokensFile: file }),
        (err: Error) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.message, /^SESSIOND_AUTH_TOKENS_FILE \(--auth-tokens-file\) /);
          assert.match(err.message, expected);
          assert.ok(!err.message.includes(RW), "the message shows a token");
          return true;
        },
      );
    });
  }

  test("--auth-health: health needs a token too", async () => {
    const protectedServer = await startServer({
      port: 0,
      storage: "memory",
      authTokensFile: tokensFile,
      authHealth: true,
    });
    try {
      await assert.rejects(checkHealth(protectedServer.address), { code: status.UNAUTHENTICATED });
      const md = new Metadata();
      md.set("authorization", `Bearer ${RO}`);
      assert.equal(await checkHealth(protectedServer.address, "", md), "SERVING");
    } finally {
      await protectedServer.shutdown();
    }
  });
});

describe("a tokens reload fails closed", () => {
  // Tokens of this suite's own server: A and B read and write, C reads.
  const A = token();
  const B = token();
  const C = token();
  const D = token();
  const file = join(dir, "closed-tokens");
  const GOOD = `${A} read,write\n${B} read,write\n${C} read\n`;
  const closedLogs: LogEntry[] = [];
  let closed: RunningServer;

  before(async () => {
    writeFileSync(file, GOOD, { mode: 0o600 });
    closed = await startServer(
      { port: 0, storage: "memory", authTokensFile: file },
      { logger: capturingLogger(closedLogs) },
    );
  });
  after(async () => {
    await closed.shutdown();
  });

  /** The code of a Get (needs read) and a Set (needs write) with each token. */
  async function codes(tokens: Record<string, string>): Promise<Record<string, [string, string]>> {
    const client = rawClient(closed.address);
    try {
      const out: Record<string, [string, string]> = {};
      for (const [name, t] of Object.entries(tokens)) {
        const get = await callMethod(client, "Get", bearer(t));
        const set = await callMethod(client, "Set", bearer(t));
        out[name] = [status[get.code] as string, status[set.code] as string];
      }
      return out;
    } finally {
      client.close();
    }
  }

  const OK: [string, string] = ["OK", "OK"];
  const READ_ONLY: [string, string] = ["OK", "PERMISSION_DENIED"];
  const REFUSED: [string, string] = ["UNAUTHENTICATED", "UNAUTHENTICATED"];

  /** Back to the good file (reloads are queued: once reload() resolves, it is in force). */
  async function restore(): Promise<void> {
    replaceFile(file, GOOD);
    await closed.reload();
    assert.deepEqual(await codes({ A, B, C }), { A: OK, B: OK, C: READ_ONLY });
  }

  test("an edit that removes a token and has a typo elsewhere: the removed token is refused", async () => {
    assert.deepEqual(await codes({ A, B, C, D }), { A: OK, B: OK, C: READ_ONLY, D: REFUSED });
    const mark = closedLogs.length;
    // B removed, C's line mistyped, D added, and C's good duplicate would widen it to write.
    replaceFile(file, `${A} read,write\n${C} read,wrte\n${D} read,write\n${C} read,write\n`);
    const failed = await waitFor(closedLogs, NARROWED, mark);
    assert.equal(failed.level, "error");
    assert.equal(
      failed.fields?.error,
      "line 2: scopes are comma-separated read, write and admin; line 4: this token is already listed on an earlier line",
    );
    assert.equal(failed.fields?.tokens, 2);
    assert.deepEqual(await codes({ A, B, C, D }), {
      A: OK,
      B: REFUSED,
      C: READ_ONLY,
      D: REFUSED,
    });
    // Said again on SIGHUP (reload()), and nothing changes.
    const again = closedLogs.length;
    await closed.reload();
    assert.equal(closedLogs.slice(again).filter((l) => l.msg === NARROWED).length, 1);
    assert.deepEqual(await codes({ A, B }), { A: OK, B: REFUSED });
    await restore();
  });

  test("a token's scopes are never widened by a file with a bad line", async () => {
    const mark = closedLogs.length;
    replaceFile(file, `${C} read,write\nnot-a-token\n`);
    await waitFor(closedLogs, NARROWED, mark);
    assert.deepEqual(await codes({ A, B, C }), { A: REFUSED, B: REFUSED, C: READ_ONLY });
    await restore();
  });

  for (const [what, change] of [
    ["emptied", () => replaceFile(file, "")],
    ["comment-only", () => replaceFile(file, "# every token revoked\n\n")],
    ["deleted", () => rmSync(file)],
    ["made writable by others (0666)", () => chmodSync(file, 0o666)],
    ["made group-writable (0620)", () => chmodSync(file, 0o620)],
    ["given to another user (uid 65534)", () => chownSync(file, 65534, 65534)],
  ] as const) {
    test(`a tokens file ${what} leaves no token valid, logged at error`, async () => {
      const mark = closedLogs.length;
      change();
      await closed.reload();
      const failed = await waitFor(closedLogs, NONE_VALID, mark);
      assert.equal(failed.level, "error");
      assert.equal(failed.fields?.tokens, 0);
      assert.deepEqual(await codes({ A, B, C }), { A: REFUSED, B: REFUSED, C: REFUSED });
      // Restoring the contents alone does not help while the file is still unsafe.
      if (what.startsWith("made") || what.startsWith("given")) {
        assert.match(String(failed.fields?.error), /chmod 600|chown 0/);
        await closed.reload();
        assert.deepEqual(await codes({ A }), { A: REFUSED });
        chownSync(file, 0, 0);
      }
      await restore();
    });
  }

  test("no token appears in the fail-closed log lines", () => {
    const text = JSON.stringify(closedLogs);
    for (const t of [A, B, C, D]) assert.ok(!text.includes(t), "a token was logged");
  });
});

describe("tokens file permissions at start", () => {
  test("writable by others (0666) or by group: refused, naming the fix", async () => {
    for (const mode of [0o666, 0o620]) {
      const file = join(dir, `open-${mode.toString(8)}`);
      writeFileSync(file, `${RW} read,write\n`);
      chmodSync(file, mode);
      await assert.rejects(
        startServer({ port: 0, storage: "memory", authTokensFile: file }),
        (err: Error) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(
            err.message,
            new RegExp(
              `^SESSIOND_AUTH_TOKENS_FILE \\(--auth-tokens-file\\) ${file}: is writable by .*chmod 600 ${file}$`,
            ),
          );
          return true;
        },
      );
    }
  });

  test("owned by another user: refused; root-owned is accepted for a non-root server", async () => {
    const file = join(dir, "theirs");
    writeFileSync(file, `${RW} read,write\n`, { mode: 0o600 });
    chownSync(file, 65534, 65534);
    await assert.rejects(
      startServer({ port: 0, storage: "memory", authTokensFile: file }),
      (err: Error) =>
        err instanceof ConfigError && /is owned by uid 65534, .*chown 0 /.test(err.message),
    );
    // A Kubernetes Secret: root-owned 0644, read by a server running as uid 1000.
    const secret = { uid: 0, mode: 0o100644 };
    const rule = { rootMayOwn: true, fixMode: "600" } as const;
    assert.equal(permissionProblem("/s", secret, rule, 1000), undefined);
    assert.match(
      String(permissionProblem("/s", { uid: 1001, mode: 0o100600 }, rule, 1000)),
      /chown 1000/,
    );
  });

  test("the command line exits 2 with one line for a 0666 tokens file", async () => {
    const file = join(dir, "cli-0666");
    writeFileSync(file, `${RW} read,write\n`);
    chmodSync(file, 0o666);
    const { code, stderr } = await runCli([
      "--storage",
      "memory",
      "--port",
      "0",
      "--auth-tokens-file",
      file,
    ]);
    assert.equal(code, 2, stderr);
    assert.equal(
      stderr,
      `sessiond: SESSIOND_AUTH_TOKENS_FILE (--auth-tokens-file) ${file}: is writable by group and others (mode 0666), so another local user could change it: chmod 600 ${file}\n`,
    );
  });
});
