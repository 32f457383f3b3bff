import { createPrivateKey, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createSecureContext, type SecureContextOptions } from "node:tls";
import { SECRET_FILE_RULE } from "../../file/permissionProblem.js";
import { readPrivateFile, UntrustedFileError } from "../../file/readPrivateFile.js";

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  clientCaFile?: string;
}

export interface TlsMaterial {
  options: SecureContextOptions;
  /** What the logs say about the certificate served (never the key). */
  summary: { subject: string; notAfter: string; fingerprint256: string };
}

/** The files cannot be served; the message names the file and what is wrong with it. */
export class TlsFileError extends Error {
  override readonly name = "TlsFileError";
}

/**
 * Reads and checks the PEM files: the chain parses, its first certificate is valid now and
 * matches the key, the CA file holds certificates, and Node builds a secure context from
 * them. Everything grpc-js would refuse later is refused here, so a bad rotation never
 * reaches the listener (grpc-js drops every new connection when an update fails).
 */
export async function loadTlsFiles(files: TlsFiles, now = new Date()): Promise<TlsMaterial> {
  const cert = await read(files.certFile, "--tls-cert-file");
  const key = await read(files.keyFile, "--tls-key-file", true);
  // Whoever can write the client CA file can let in any client of their own making.
  const ca =
    files.clientCaFile === undefined
      ? undefined
      : await read(files.clientCaFile, "--tls-client-ca-file", true);

  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (err) {
    throw new TlsFileError(`--tls-cert-file ${files.certFile}: no PEM certificate (${why(err)})`);
  }
  if (now < new Date(leaf.validFrom) || now > new Date(leaf.validTo)) {
    throw new TlsFileError(
      `--tls-cert-file ${files.certFile}: the certificate is valid from ${leaf.validFrom} to ${leaf.validTo}, not now`,
    );
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    throw new TlsFileError(`--tls-key-file ${files.keyFile}: no PEM private key (${why(err)})`);
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new TlsFileError(
      `--tls-key-file ${files.keyFile}: the key does not belong to the certificate in ${files.certFile}`,
    );
  }
  if (ca !== undefined) {
    try {
      new X509Certificate(ca);
    } catch (err) {
      throw new TlsFileError(
        `--tls-client-ca-file ${files.clientCaFile}: no PEM CA certificate (${why(err)})`,
      );
    }
  }
  const options: SecureContextOptions = { cert, key, ...(ca === undefined ? {} : { ca }) };
  try {
    createSecureContext(options);
  } catch (err) {
    throw new TlsFileError(`TLS files refused by Node: ${why(err)}`);
  }
  return {
    options,
    summary: { subject: leaf.subject, notAfter: leaf.validTo, fingerprint256: leaf.fingerprint256 },
  };
}

async function read(path: string, flag: string, guarded = false): Promise<Buffer> {
  try {
    return guarded ? await readPrivateFile(path, SECRET_FILE_RULE) : await readFile(path);
  } catch (err) {
    if (err instanceof UntrustedFileError) throw new TlsFileError(`${flag} ${path} ${err.message}`);
    throw new TlsFileError(`${flag} ${path}: cannot be read (${why(err)})`);
  }
}

function why(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message ?? String(err);
}
