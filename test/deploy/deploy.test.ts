// The deployment recipes in deploy/ (README: Running in production): the systemd unit passes
// `systemd-analyze verify` and its ExecStart line runs the compiled server and stops it
// gracefully; the Kubernetes manifests' probes, ports and shutdown timing match settings that
// exist, and the exact command and environment they give the container run, answer the
// probes as kubelet asks them, drain and exit 0 on SIGTERM.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { SERVER_NODE_FLAGS } from "../../scripts/bench/serverFlags.js";
import { parseConfig } from "../../src/server/config/parseConfig.js";
import { envName } from "../../src/server/config/Setting.js";
import { SETTINGS } from "../../src/server/config/settings.js";
import { LIVENESS_SERVICE } from "../../src/server/health/serveHealthPort.js";
import { alive, builtCheckout } from "../support/builtCheckout.js";
import { type RedisProcess, startRedis } from "../support/redisServers.js";
import { checkHealth, waitForHealth } from "../support/serverClients.js";
import { REPO_ROOT, ServerProcess } from "../support/serverProcess.js";
import { requirePythonYaml, requireTool } from "../support/systemTools.js";
import { makeTestPki } from "../support/testPki.js";

const DEPLOY = join(REPO_ROOT, "deploy");
const KNOWN_ENV = new Set(SETTINGS.map(envName));

let dir: string;
let root: string;
before(() => {
  ({ dir, root } = builtCheckout());
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** Checks the settings as the server would: known names, valid values, no warnings. */
function settingsOf(env: Record<string, string>) {
  for (const name of Object.keys(env)) {
    if (name.startsWith("SESSIOND_")) assert.ok(KNOWN_ENV.has(name), `unknown setting ${name}`);
  }
  const { config, warnings } = parseConfig([], env);
  assert.deepEqual(warnings, []);
  return config;
}

/** SIGTERM, then: exit 0 within `withinMs`, the "stopped" line, no process left. */
async function sigterm(server: ServerProcess, withinMs: number): Promise<void> {
  const pid = Number(server.logs().find((line) => line.msg === "listening")?.pid);
  const started = Date.now();
  server.child.kill("SIGTERM");
  const timer = setTimeout(() => server.child.kill("SIGKILL"), withinMs);
  const exit = await server.exited;
  clearTimeout(timer);
  assert.deepEqual(exit, { code: 0, signal: null }, server.lines.join("\n"));
  assert.ok(Date.now() - started < withinMs);
  assert.ok(server.logs().some((line) => line.msg === "stopped"));
  assert.equal(alive(pid), false);
}

describe("deploy/sessiond.service", () => {
  const unitPath = join(DEPLOY, "sessiond.service");
  const unit = readFileSync(unitPath, "utf8");
  const values = (key: string) =>
    unit
      .split("\n")
      .filter((line) => line.startsWith(`${key}=`))
      .map((line) => line.slice(key.length + 1));

  test("systemd-analyze verify finds nothing to say about it", () => {
    const analyze = requireTool("systemd-analyze", "systemd");
    let checked = unitPath;
    if (!existsSync("/usr/bin/node")) {
      // verify checks that ExecStart's program exists; node lives elsewhere on this machine.
      checked = join(dir, "sessiond.service");
      writeFileSync(checked, unit.replaceAll("/usr/bin/node", process.execPath));
    }
    const run = spawnSync(analyze, ["verify", checked], { encoding: "utf8" });
    assert.equal(run.status, 0, run.stderr);
    assert.equal(run.stderr.trim(), "", "warnings from systemd-analyze verify");
  });

  test("its ExecStart runs the compiled server with the unit's environment; SIGTERM stops it gracefully in time", async () => {
    const [execStart, ...more] = values("ExecStart");
    assert.equal(more.length, 0);
    const state = join(dir, "systemd-state");
    // %S is the state directory's root (/var/lib); StateDirectory= makes sessiond under it.
    const env: Record<string, string> = {};
    for (const assignment of values("Environment")) {
      const at = assignment.indexOf("=");
      env[assignment.slice(0, at)] = assignment.slice(at + 1).replaceAll("%S", state);
    }
    const config = settingsOf(env);
    assert.equal(values("KillSignal")[0], "SIGTERM");
    const stopSec = Number(/^(\d+)s$/.exec(values("TimeoutStopSec")[0] ?? "")?.[1]);
    assert.ok(
      stopSec * 1000 > config.shutdownDrainMs + config.shutdownGraceMs + 5000,
      `TimeoutStopSec=${stopSec}s leaves no room for the drain and the grace period`,
    );
    const argv = (execStart as string)
      .replaceAll("/opt/sessiond/node_modules/sessiond", root)
      .split(" ");
    assert.equal(argv[0], "/usr/bin/node");
    for (const flag of SERVER_NODE_FLAGS) assert.ok(argv.includes(flag), `ExecStart lacks ${flag}`);
    const node = existsSync("/usr/bin/node") ? "/usr/bin/node" : process.execPath;
    // A free port instead of the unit's 50051, which another test or program may hold.
    const server = await ServerProcess.launch(node, argv.slice(1), {
      cwd: "/",
      env: { ...env, SESSIOND_PORT: "0" },
    });
    const line = server.logs().find((l) => l.msg === "listening");
    assert.equal(line?.fileDir, join(state, "sessiond"));
    assert.deepEqual(line?.heapFlags, SERVER_NODE_FLAGS);
    assert.equal(await checkHealth(server.address), "SERVING");
    await sigterm(server, stopSec * 1000);
  });
});

interface Container {
  command: string[];
  env: Array<{ name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }>;
  ports: Array<{ name: string; containerPort: number }>;
  readinessProbe: { grpc: { port: number; service?: string } };
  livenessProbe: { grpc: { port: number; service?: string } };
  volumeMounts: Array<{ name: string; mountPath: string }>;
}
interface Manifest {
  kind: string;
  spec: {
    template: { spec: { terminationGracePeriodSeconds: number; containers: Container[] } };
    ports: Array<{ port: number; targetPort: string | number }>;
  };
}

const MANIFEST = join(DEPLOY, "kubernetes", "sessiond.yaml");
function manifests(): Manifest[] {
  const python = requirePythonYaml();
  const run = spawnSync(
    python,
    ["-c", "import json, sys, yaml; print(json.dumps(list(yaml.safe_load_all(sys.stdin))))"],
    { input: readFileSync(MANIFEST), encoding: "utf8" },
  );
  assert.equal(run.status, 0, run.stderr);
  return JSON.parse(run.stdout) as Manifest[];
}
function parts() {
  const all = manifests();
  const deployment = all.find((m) => m.kind === "Deployment");
  const service = all.find((m) => m.kind === "Service");
  assert.ok(deployment && service, "a Deployment and a Service");
  const pod = deployment.spec.template.spec;
  assert.equal(pod.containers.length, 1);
  return { pod, container: pod.containers[0] as Container, service };
}
/** The container's environment, secrets filled in with `secrets[key]`. */
function envOf(container: Container, secrets: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env) {
    const secret = entry.valueFrom?.secretKeyRef?.key;
    const value = entry.value ?? (secret === undefined ? undefined : secrets[secret]);
    assert.ok(value !== undefined, `no value for ${entry.name}`);
    env[entry.name] = value;
  }
  return env;
}

/**
 * The container's environment as the server would see it: secrets filled in, and the TLS
 * secret's volume at its mount path replaced by a directory holding tls.crt and tls.key.
 */
function containerEnv(container: Container, redisUrl: string): Record<string, string> {
  const mount = container.volumeMounts.find((m) => m.name === "tls")?.mountPath;
  assert.ok(mount, "a volume named tls");
  const tlsDir = join(dir, "tls-volume");
  mkdirSync(tlsDir, { recursive: true });
  const pki = makeTestPki(mkdtempSync(join(dir, "pki-")));
  copyFileSync(pki.serverCert, join(tlsDir, "tls.crt"));
  copyFileSync(pki.serverKey, join(tlsDir, "tls.key"));
  const env = envOf(container, { url: redisUrl });
  for (const [name, value] of Object.entries(env)) env[name] = value.replaceAll(mount, tlsDir);
  return env;
}

describe("deploy/kubernetes/sessiond.yaml", () => {
  test("probes, ports and shutdown timing match the settings it gives the server", () => {
    const { pod, container, service } = parts();
    const config = settingsOf(containerEnv(container, "redis://redis:6379"));
    // The main port is TLS-only: that is why kubelet, which probes in plaintext, asks the
    // health-only listener, on the pod's IP.
    assert.ok(config.tlsCertFile !== undefined, "TLS on the main port");
    assert.ok(config.healthPort !== undefined && config.healthPort > 0);
    assert.equal(config.healthHost, "0.0.0.0");
    assert.deepEqual(container.readinessProbe.grpc, { port: config.healthPort, service: "" });
    assert.deepEqual(container.livenessProbe.grpc, {
      port: config.healthPort,
      service: LIVENESS_SERVICE,
    });
    const ports = new Map(container.ports.map((p) => [p.name, p.containerPort]));
    assert.equal(ports.get("grpc"), config.port);
    assert.equal(ports.get("health"), config.healthPort);
    const target = service.spec.ports[0]?.targetPort;
    assert.equal(typeof target === "string" ? ports.get(target) : target, config.port);
    assert.ok(config.shutdownDrainMs >= 1000, "a drain, so endpoints drop the pod first");
    assert.ok(
      pod.terminationGracePeriodSeconds * 1000 >
        config.shutdownDrainMs + config.shutdownGraceMs + 5000,
      "terminationGracePeriodSeconds leaves no room for the drain and the grace period",
    );
    assert.equal(container.command[0], "node");
    for (const flag of SERVER_NODE_FLAGS) assert.ok(container.command.includes(flag), flag);
  });

  test("its command and environment run: probes answered as kubelet asks, drain, exit 0 on SIGTERM", async () => {
    const { pod, container } = parts();
    const redis = await startRedis();
    try {
      await runManifestCommand(pod, container, redis);
    } finally {
      await redis.stop();
    }
  });
});

async function runManifestCommand(
  pod: Manifest["spec"]["template"]["spec"],
  container: Container,
  redis: RedisProcess,
): Promise<void> {
  const env = containerEnv(container, redis.url);
  const config = settingsOf(env);
  const command = container.command.map((word) =>
    word.replaceAll("/app/node_modules/sessiond", root),
  );
  assert.equal(command[0], "node");
  // Free ports instead of the manifest's, which another test or program may hold.
  const server = await ServerProcess.launch(process.execPath, command.slice(1), {
    cwd: "/",
    env: { ...env, SESSIOND_PORT: "0", SESSIOND_HEALTH_PORT: "0" },
  });
  try {
    const line = server.logs().find((l) => l.msg === "listening");
    assert.equal(line?.tls, "on");
    const probe = `127.0.0.1:${line?.healthPort}`;
    const readiness = container.readinessProbe.grpc.service ?? "";
    const liveness = container.livenessProbe.grpc.service ?? "";
    assert.equal(await checkHealth(probe, readiness), "SERVING");
    assert.equal(await checkHealth(probe, liveness), "SERVING");
    // Redis down: not ready, still alive.
    await redis.kill();
    await waitForHealth(probe, readiness, "NOT_SERVING");
    assert.equal(await checkHealth(probe, liveness), "SERVING");
    await redis.restart();
    await waitForHealth(probe, readiness, "SERVING");

    const started = Date.now();
    server.child.kill("SIGTERM");
    await server.waitForLog((l) => l.msg.startsWith("draining"));
    assert.equal(await checkHealth(probe, readiness), "NOT_SERVING");
    assert.equal(await checkHealth(probe, liveness), "SERVING");
    const exit = await server.exited;
    assert.deepEqual(exit, { code: 0, signal: null }, server.lines.join("\n"));
    const took = Date.now() - started;
    assert.ok(took >= config.shutdownDrainMs - 100, `stopped after ${took} ms, before the drain`);
    assert.ok(took < pod.terminationGracePeriodSeconds * 1000, `stopped after ${took} ms`);
  } finally {
    if (server.child.exitCode === null) server.child.kill("SIGKILL");
  }
}
