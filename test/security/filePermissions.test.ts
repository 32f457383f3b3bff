// Who may own and write what the server trusts at start: the file storage's directory
// and every key file. Another local user is uid 65534 (nobody): the tests run as root,
// which can give files away, and start a non-root server with spawn's uid option.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { ConfigError } from "../../src/core/ConfigError.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { defaultFileDir } from "../../src/server/defaultFileDir.js";
import { startServer } from "../../src/server/startServer.js";
import { REPO_ROOT, runCli, ServerProcess } from "../support/serverProcess.js";
import { makeTestPki } from "../support/testPki.js";

const NOBODY = 65534;
const dir = mkdtempSync(join(tmpdir(), "sessiond-file-permissions-"));
// Traversable by the non-root server below; nobody else can write in it.
chmodSync(dir, 0o755);
after(() => rmSync(dir, { recursive: true, force: true }));
assert.equal(process.getuid?.(), 0, "these tests need root, to give files to another user");

const KEY = `${"5a".repeat(32)}\n`;

/** A file of `text` with `mode`, owned by `uid`. */
function file(name: string, text: string, mode: number, uid = 0): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, mode);
  chownSync(path, uid, uid);
  return path;
}

describe("the file storage's directory at start", () => {
  test("another user's directory, even 0700 with a key planted in it: exit 2, one line", async () => {
    const planted = join(dir, "planted");
    mkdirSync(planted, { mode: 0o700 });
    writeFileSync(join(planted, ".id-hash-key"), KEY, { mode: 0o600 });
    chownSync(join(planted, ".id-hash-key"), NOBODY, NOBODY);
    chownSync(planted, NOBODY, NOBODY);
    const { code, stderr } = await runCli(["--port", "0", "--file-dir", planted]);
    assert.equal(code, 2, stderr);
    assert.equal(
      stderr,
      `sessiond: SESSIOND_FILE_DIR (--file-dir): file storage directory ${planted} is owned by uid ${NOBODY}, not by the user sessiond runs as (uid 0), so that user could change it: chown 0 ${planted} if its content is yours, or use a path of your own\n`,
    );
  });

  for (const mode of [0o777, 0o770]) {
    test(`a directory of its own that is ${mode.toString(8)}: exit 2, chmod 700`, async () => {
      const open = join(dir, `open-${mode.toString(8)}`);
      mkdirSync(open);
      chmodSync(open, mode);
      const { code, stderr } = await runCli(["--port", "0", "--file-dir", open]);
      assert.equal(code, 2, stderr);
      assert.match(
        stderr,
        new RegExp(
          `^sessiond: SESSIOND_FILE_DIR \\(--file-dir\\): file storage directory ${open} is writable by .*: chmod 700 ${open}\\n$`,
        ),
      );
    });
  }

  test("the default is $XDG_STATE_HOME/sessiond, else ~/.local/state/sessiond, created 0700, named in the listening line", async () => {
    assert.equal(defaultFileDir({ XDG_STATE_HOME: "/x/state", HOME: "/h" }), "/x/state/sessiond");
    assert.equal(
      defaultFileDir({ XDG_STATE_HOME: "relative", HOME: "/h" }),
      "/h/.local/state/sessiond",
    );
    assert.equal(defaultFileDir({ HOME: "/h" }), "/h/.local/state/sessiond");
    const home = join(dir, "home");
    const state = join(dir, "state");
    mkdirSync(home, { mode: 0o700 });
    mkdirSync(state, { mode: 0o700 });
    for (const [env, expected] of [
      [{ HOME: home, XDG_STATE_HOME: "" }, join(home, ".local", "state", "sessiond")],
      [{ HOME: home, XDG_STATE_HOME: state }, join(state, "sessiond")],
    ] as const) {
      const server = await ServerProcess.start([], env);
      try {
        const listening = server.logs().find((line) => line.msg === "listening");
        assert.equal(listening?.fileDir, expected);
        assert.equal(statSync(expected).mode & 0o777, 0o700);
        assert.ok(existsSync(join(expected, ".id-hash-key")));
      } finally {
        server.child.kill("SIGTERM");
        await server.exited;
      }
    }
    assert.equal(statSync(join(home, ".local")).mode & 0o777, 0o700, "parents made 0700 too");
  });

  test("a non-root server starts although another user made <tmpdir>/sessiond first", async () => {
    // The shared temp directory of this test, sticky like /tmp, where root got there first.
    const shared = join(dir, "shared-tmp");
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    mkdirSync(join(shared, "sessiond"), { mode: 0o700 });
    const home = join(dir, "nobody-home");
    mkdirSync(home, { mode: 0o700 });
    chownSync(home, NOBODY, NOBODY);
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "src/server/main.ts", "--port", "0"],
      {
        cwd: REPO_ROOT,
        uid: NOBODY,
        gid: NOBODY,
        env: { PATH: process.env.PATH ?? "", HOME: home, TMPDIR: shared },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    const line = await firstLine(child, /"msg":"listening"|^sessiond:/);
    child.kill("SIGTERM");
    assert.match(line, /"msg":"listening"/);
    assert.equal(JSON.parse(line).fileDir, join(home, ".local", "state", "sessiond"));
    assert.equal(statSync(join(home, ".local", "state", "sessiond")).uid, NOBODY);
  });
});

describe("key files at start", () => {
  const unsafe: Array<[string, number, number, RegExp]> = [
    ["0666", 0o666, 0, /is writable by group and others \(mode 0666\).*: chmod 600 /],
    ["0620", 0o620, 0, /is writable by group \(mode 0620\)/],
    ["owned by uid 65534", 0o600, NOBODY, /is owned by uid 65534, .*: chown 0 /],
  ];
  for (const [what, mode, uid, expected] of unsafe) {
    test(`an id-hash key file or encryption key file ${what} is refused in one line`, () => {
      for (const [flag, env] of [
        ["--id-hash-key-file", "SESSIOND_ID_HASH_KEY_FILE"],
        ["--encryption-key-file", "SESSIOND_ENCRYPTION_KEY_FILE"],
      ] as const) {
        const path = file(`${flag.slice(2)}-${mode.toString(8)}-${uid}`, KEY, mode, uid);
        assert.throws(
          () => parseConfig([flag, path], {}),
          (err: Error) => {
            assert.ok(err instanceof ConfigError, String(err));
            assert.ok(
              err.message.startsWith(`${flag} (${env}): expected a file holding `),
              err.message,
            );
            assert.ok(err.message.includes(path), err.message);
            assert.match(err.message, expected);
            assert.ok(!err.message.includes("\n"));
            return true;
          },
        );
      }
    });

    test(`a TLS key or client CA file ${what} is refused at start`, async () => {
      const pki = makeTestPki(mkdtempSync(join(dir, "pki-")));
      for (const [name, source] of [
        ["tlsKeyFile", pki.serverKey],
        ["tlsClientCaFile", pki.caCert],
      ] as const) {
        const path = join(dir, `${name}-${mode.toString(8)}-${uid}.pem`);
        copyFileSync(source, path);
        chmodSync(path, mode);
        chownSync(path, uid, uid);
        const files = {
          tlsCertFile: pki.serverCert,
          tlsKeyFile: name === "tlsKeyFile" ? path : pki.serverKey,
          ...(name === "tlsClientCaFile" ? { tlsClientCaFile: path } : {}),
        };
        await assert.rejects(
          startServer({ port: 0, storage: "memory", ...files }),
          (err: Error) => {
            assert.ok(err instanceof ConfigError, String(err));
            assert.ok(err.message.includes(path), err.message);
            assert.match(err.message, expected);
            return true;
          },
        );
      }
    });
  }

  test("a root-owned 0644 key file (an orchestrator's mount) is accepted", () => {
    const path = file("mounted-key", KEY, 0o644);
    assert.equal(parseConfig(["--id-hash-key-file", path], {}).config.idHashKey?.length, 32);
  });

  test("the command line exits 2 for a key file others can write", async () => {
    const path = file("cli-key", KEY, 0o666);
    const { code, stderr } = await runCli([
      "--storage",
      "memory",
      "--port",
      "0",
      "--encryption-key-file",
      path,
    ]);
    assert.equal(code, 2, stderr);
    assert.equal(stderr.trim().split("\n").length, 1, stderr);
    assert.match(stderr, new RegExp(`chmod 600 ${path}; got`));
  });
});

/** The first stderr line of `child` matching `pattern` (or everything, if it exits first). */
function firstLine(child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve) => {
    let text = "";
    const done = () => resolve(text.split("\n").find((l) => pattern.test(l)) ?? text);
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (chunk: string) => {
      text += chunk;
      if (text.split("\n").some((l) => pattern.test(l))) done();
    });
    child.on("close", done);
  });
}
