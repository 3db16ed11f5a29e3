// A node's TLS files read into what node:tls takes: its certificate and key and, for verifying
// client (and peer) certificates, the CA. Read again on every reload, so a rotated file is used by
// the next connection.
import { readFile } from "node:fs/promises";
import type { SecureContextOptions } from "node:tls";
import { InvalidConfigError } from "../errors.ts";

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  /** Verify client and peer certificates against this CA (mutual TLS); absent: server TLS only. */
  readonly caFile: string | undefined;
}

export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

async function readPem(file: string, what: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new InvalidConfigError(`cannot read the TLS ${what} ${file}: ${(error as Error).message}`, { cause: error });
  }
}

export async function readTlsMaterial(files: TlsFiles): Promise<TlsMaterial> {
  const [cert, key, ca] = await Promise.all([
    readPem(files.certFile, "certificate"),
    readPem(files.keyFile, "key"),
    files.caFile === undefined ? undefined : readPem(files.caFile, "CA"),
  ]);
  // Checked now: an empty or non-PEM CA was taken, and then refused every client certificate.
  requirePem(cert, /-----BEGIN CERTIFICATE-----/, "certificate", files.certFile);
  requirePem(key, /-----BEGIN [A-Z ]*PRIVATE KEY-----/, "key", files.keyFile);
  if (ca !== undefined) requirePem(ca, /-----BEGIN CERTIFICATE-----/, "CA", files.caFile!);
  return { cert, key, ca };
}

function requirePem(pem: Buffer, begins: RegExp, what: string, file: string): void {
  if (!begins.test(pem.toString("latin1"))) throw new InvalidConfigError(`the TLS ${what} ${file} is not a PEM ${what === "key" ? "private key" : "certificate"}`);
}

/** The secure context options of `material` (a key that does not fit its certificate fails when the context is made: see ServerSecurity.load). */
export function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return { cert: material.cert, key: material.key, ...(material.ca === undefined ? {} : { ca: material.ca }), minVersion: "TLSv1.2" };
}

/** The paths that a reload watches. */
export function tlsPaths(files: TlsFiles): string[] {
  return [files.certFile, files.keyFile, ...(files.caFile === undefined ? [] : [files.caFile])];
}
