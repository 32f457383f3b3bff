import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { requireTool } from "./systemTools.js";

/** Paths of the PEM files makeTestPki() writes. */
export interface TestPki {
  dir: string;
  caCert: string;
  /** Server certificate for localhost / 127.0.0.1, and a second one to rotate to. */
  serverCert: string;
  serverKey: string;
  serverCert2: string;
  serverKey2: string;
  /** Client certificates signed by the CA: CN=app1, and CN=intruder. */
  clientCert: string;
  clientKey: string;
  intruderCert: string;
  intruderKey: string;
  /** Another CA, and a CN=app1 client certificate it signed. */
  otherCaCert: string;
  otherClientCert: string;
  otherClientKey: string;
}

/** The PEM bytes of a file (for grpc-js credentials). */
export const pem = (path: string): Buffer => readFileSync(path);

/**
 * A CA with server and client certificates, made once per test file with openssl (EC
 * P-256, a few milliseconds each). Fails with what to install when openssl is missing.
 */
export function makeTestPki(dir: string): TestPki {
  const at = (name: string) => join(dir, name);
  const run = (args: string[]) => {
    const result = spawnSync(requireTool("openssl", "openssl"), args, {
      cwd: dir,
      encoding: "utf8",
    });
    if (result.status !== 0) throw new Error(`openssl ${args.join(" ")} failed:\n${result.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "30"];
  const ca = (name: string, cn: string) =>
    run([
      "req",
      "-x509",
      ...ec,
      "-keyout",
      at(`${name}.key`),
      "-out",
      at(`${name}.crt`),
      "-subj",
      `/CN=${cn}`,
    ]);
  const leaf = (name: string, signer: string, cn: string, san: string) =>
    run([
      "req",
      "-x509",
      "-CA",
      at(`${signer}.crt`),
      "-CAkey",
      at(`${signer}.key`),
      ...ec,
      "-keyout",
      at(`${name}.key`),
      "-out",
      at(`${name}.crt`),
      "-subj",
      `/CN=${cn}`,
      "-addext",
      `subjectAltName=${san}`,
      "-addext",
      "basicConstraints=critical,CA:FALSE",
    ]);
  ca("ca", "sessiond test CA");
  ca("other-ca", "another CA");
  leaf("server", "ca", "localhost", "DNS:localhost,IP:127.0.0.1");
  leaf("server2", "ca", "localhost", "DNS:localhost,IP:127.0.0.1");
  leaf("client", "ca", "app1", "DNS:app1.internal");
  leaf("intruder", "ca", "intruder", "DNS:intruder.internal");
  leaf("other-client", "other-ca", "app1", "DNS:app1.internal");
  return {
    dir,
    caCert: at("ca.crt"),
    serverCert: at("server.crt"),
    serverKey: at("server.key"),
    serverCert2: at("server2.crt"),
    serverKey2: at("server2.key"),
    clientCert: at("client.crt"),
    clientKey: at("client.key"),
    intruderCert: at("intruder.crt"),
    intruderKey: at("intruder.key"),
    otherCaCert: at("other-ca.crt"),
    otherClientCert: at("other-client.crt"),
    otherClientKey: at("other-client.key"),
  };
}
