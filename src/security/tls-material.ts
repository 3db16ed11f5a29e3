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
  return { cert, key, ca };
}

/** The secure context options of `material`; throws InvalidConfigError when the key does not fit the certificate. */
export function secureContextOptions(material: TlsMaterial): SecureContextOptions {
  return { cert: material.cert, key: material.key, ...(material.ca === undefined ? {} : { ca: material.ca }), minVersion: "TLSv1.2" };
}

/** The paths that a reload watches. */
export function tlsPaths(files: TlsFiles): string[] {
  return [files.certFile, files.keyFile, ...(files.caFile === undefined ? [] : [files.caFile])];
}
