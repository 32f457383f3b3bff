// The README's five-minute tour and configuration table stay true: every `buf curl` command
// of the tour runs (in order, sharing $ID) against the real server process, and its output
// must match the output block printed under it, up to ids and times.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { envName, flagName } from "../../src/server/config/Setting.js";
import { SETTINGS } from "../../src/server/config/settings.js";
import { README } from "../support/readmeBlocks.js";
import { REPO_ROOT, runCli, ServerProcess } from "../support/serverProcess.js";

function section(title: string): string {
  const start = README.indexOf(`\n## ${title}\n`);
  assert.ok(start >= 0, `README has no "## ${title}" section`);
  const end = README.indexOf("\n## ", start + 1);
  return README.slice(start, end === -1 ? undefined : end);
}

interface Step {
  commands: string[];
  expected: string;
}

/** Each ```sh block with buf curl commands, paired with the output block that follows it. */
function tourSteps(): Step[] {
  const lines = section("Five-minute tour").split("\n");
  const steps: Step[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i] !== "```sh") continue;
    const block: string[] = [];
    for (i++; lines[i] !== "```"; i++) block.push(lines[i] as string);
    const logical = block
      .join("\n")
      .replace(/\\\n\s*/g, "")
      .split("\n");
    // The buf curl half of each step, and the shell lines both halves share.
    if (!logical.some((line) => line.includes("npx buf curl"))) continue;
    const commands = logical.filter((line) => line.trim() !== "" && !line.includes("grpcurl"));
    let j = i + 1;
    while (lines[j] === "") j++;
    assert.equal(lines[j], "```", `no output block after: ${commands[0]}`);
    const expected: string[] = [];
    for (j++; lines[j] !== "```"; j++) expected.push(lines[j] as string);
    steps.push({ commands, expected: expected.join("\n") });
  }
  return steps;
}

const normalize = (text: string) =>
  text
    .split("\n")
    .filter((line) => !line.startsWith("npm warn"))
    .join("\n")
    .replace(/\b[0-9a-z]{32}\b/g, "<ID>")
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z/g, "<TIME>")
    .trim();

test("every buf curl command of the five-minute tour prints what the README shows", async () => {
  const steps = tourSteps();
  assert.ok(steps.length >= 6, `only ${steps.length} buf curl steps found in the tour`);
  const dir = await mkdtemp(join(tmpdir(), "sessiond-readme-"));
  const server = await ServerProcess.start(["--file-dir", dir]);
  try {
    const buf = join(REPO_ROOT, "node_modules/.bin/buf");
    const marker = "@@step@@";
    const script = steps
      .map((step) =>
        [
          ...step.commands.map((c) =>
            c.replaceAll("npx buf", buf).replaceAll("127.0.0.1:50051", server.address),
          ),
          `echo ${marker}`,
        ].join("\n"),
      )
      .join("\n");
    const run = spawnSync("bash", ["-c", `exec 2>&1\n${script}`], {
      cwd: REPO_ROOT,
      encoding: "utf8",
      timeout: 120_000,
    });
    const outputs = run.stdout.split(`${marker}\n`);
    for (const [i, step] of steps.entries()) {
      assert.equal(
        normalize(outputs[i] ?? ""),
        normalize(step.expected),
        `README tour step:\n${step.commands.join("\n")}`,
      );
    }
  } finally {
    await server.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test("the configuration table lists every setting with its flag, default and meaning", () => {
  const table = section("Configuration");
  for (const s of SETTINGS) {
    const shown =
      s.name === "FILE_DIR"
        ? "`$XDG_STATE_HOME/sessiond`, else `~/.local/state/sessiond`"
        : s.default === undefined
          ? (s.defaultText ?? "—")
          : `\`${s.default}\``;
    const row = `| \`${envName(s)}\` | \`${flagName(s)}\` | ${shown} | ${s.description} |`;
    assert.ok(table.includes(row), `README configuration table lacks or differs from:\n${row}`);
  }
});

test("the configuration section's example error is what the server prints", async () => {
  const lines = section("Configuration").split("\n");
  const at = lines.findIndex((line) => line.startsWith("$ npm start -- "));
  assert.ok(at >= 0, "no `$ npm start -- …` example in the Configuration section");
  const args = (lines[at] as string).slice("$ npm start -- ".length).split(" ");
  const { code, stderr } = await runCli(args);
  assert.equal(code, 2);
  assert.equal(stderr.trim(), lines[at + 1]);
});

test("the configuration section's example of a setting its storage does not read is what the server prints", async () => {
  const lines = section("Configuration").split("\n");
  const at = lines.findIndex((line) => /^\$ SESSIOND_\w+=\S+ npm start$/.test(line));
  assert.ok(at >= 0, "no `$ SESSIOND_…=… npm start` example in the Configuration section");
  const [assignment = ""] = (lines[at] as string).slice(2).split(" ");
  const eq = assignment.indexOf("=");
  const { code, stderr } = await runCli([], {
    [assignment.slice(0, eq)]: assignment.slice(eq + 1),
  });
  assert.equal(code, 2);
  assert.equal(stderr.trim(), lines[at + 1]);
});

test("the two set-up commands at the top are the ones package.json runs", () => {
  const top = README.slice(0, README.indexOf("\n## "));
  assert.match(top, /^npm ci && npm start\b/m);
  assert.match(top, /^npm test\b/m);
  const pkg = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as {
    scripts: Record<string, string>;
  };
  // The compiled server, built by `prepare` during `npm ci`; `exec` so that node, not a
  // shell, gets npm's signals. Node runtime flags may precede (the young-generation size).
  assert.match(pkg.scripts.start ?? "", /^exec node (--[a-z-]+=\S+ )*dist\/server\/main\.js$/);
  assert.equal(pkg.scripts.prepare, "npm run build");
  assert.match(pkg.scripts.test ?? "", /npm run check/);
});
