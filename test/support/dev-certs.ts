// Certificates for a test, made by the same module as `loghouse certs` (none are committed): a CA,
// node certificates, client certificates (root, nobody) and the sample ACL, in a fresh directory.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { writeDevCertificates } from "../../src/security/dev-certificates.ts";
import { tempDir } from "./temp-dir.ts";

export interface DevCerts {
  readonly dir: string;
  /** Absolute path of a file written (ca.pem, node-1.pem, root-client-key.pem, model.conf, ...). */
  path(name: string): string;
  read(name: string): Promise<Buffer>;
}

export async function devCerts(t: TestContext, nodes: readonly string[] = ["1", "2", "3"], clients: readonly string[] = ["root", "nobody"]): Promise<DevCerts> {
  return writeDevCerts(await tempDir(t), nodes, clients);
}

/** Writes the certificates into `dir` (which the caller removes); devCerts without a test, as the benchmarks use it. */
export async function writeDevCerts(dir: string, nodes: readonly string[], clients: readonly string[]): Promise<DevCerts> {
  await writeDevCertificates(dir, { nodes, clients });
  return { dir, path: (name) => join(dir, name), read: (name) => readFile(join(dir, name)) };
}

/** TLS options of a client holding `name`'s certificate (or none), trusting the CA. */
export async function clientTls(certs: DevCerts, name?: string): Promise<{ ca: Buffer; cert?: Buffer; key?: Buffer }> {
  const ca = await certs.read("ca.pem");
  if (name === undefined) return { ca };
  return { ca, cert: await certs.read(`${name}-client.pem`), key: await certs.read(`${name}-client-key.pem`) };
}
