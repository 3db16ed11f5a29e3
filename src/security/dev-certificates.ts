// Development certificates: a CA, a certificate per node and per client, and a sample ACL, written
// with @peculiar/x509 over Node's WebCrypto (no openssl). Node certificates carry CN = node id,
// the SANs 127.0.0.1 and localhost (so clients on this machine verify the server), and a URI SAN
// naming the node id (nodeIdUri), the binding peers check; client certificates carry CN = the
// principal, as the Go original's did (root, nobody).
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { writeFile } from "node:fs/promises";
import { makeDirectory } from "../make-directory.ts";
import { join } from "node:path";
import { randomBytes, webcrypto } from "node:crypto";
import { nodeIdUri } from "./peer-identity.ts";

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

const ALGORITHM = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;
const VALIDITY_MS = 365 * 24 * 3600 * 1000;

export interface DevCertificatesOptions {
  /** Node ids: each gets `node-ID.pem` and `node-ID-key.pem`. */
  readonly nodes: readonly string[];
  /** Client principals: each gets `NAME-client.pem` and `NAME-client-key.pem`. */
  readonly clients: readonly string[];
}

/** The sample ACL: the Go original's model (subject, object, action; object always "*"). */
const SAMPLE_ACL_MODEL = [
  "[request_definition]",
  "r = sub, obj, act",
  "",
  "[policy_definition]",
  "p = sub, obj, act",
  "",
  "[policy_effect]",
  "e = some(where (p.eft == allow))",
  "",
  "[matchers]",
  "m = r.sub == p.sub && r.obj == p.obj && r.act == p.act",
  "",
].join("\n");

/**
 * The sample policy: root may produce, consume and administer the cluster (nobody may do nothing);
 * each node may replicate (speak Raft, join) and produce (a follower forwards appends to the leader).
 */
function samplePolicy(nodes: readonly string[]): string {
  const lines = ["p, root, *, produce", "p, root, *, consume", "p, root, *, admin"];
  for (const node of nodes) lines.push(`p, ${node}, *, replicate`, `p, ${node}, *, produce`);
  return `${lines.join("\n")}\n`;
}

interface Issued {
  readonly certificate: x509.X509Certificate;
  readonly keys: CryptoKeyPair;
}

async function generateKeys(): Promise<CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALGORITHM, true, ["sign", "verify"]) as Promise<CryptoKeyPair>;
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey("pkcs8", key as webcrypto.CryptoKey);
  return x509.PemConverter.encode(der, "PRIVATE KEY");
}

function validity(): { notBefore: Date; notAfter: Date } {
  // A minute back, so a peer whose clock is slightly behind accepts the certificate at once.
  const notBefore = new Date(Date.now() - 60_000);
  return { notBefore, notAfter: new Date(notBefore.getTime() + VALIDITY_MS) };
}

async function createAuthority(): Promise<Issued> {
  const keys = await generateKeys();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=Loghouse development CA",
    keys,
    signingAlgorithm: ALGORITHM,
    ...validity(),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { certificate, keys };
}

async function issue(authority: Issued, commonName: string, names: x509.JsonGeneralNames, usages: readonly string[]): Promise<Issued> {
  const keys = await generateKeys();
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension([...usages]),
    await x509.AuthorityKeyIdentifierExtension.create(authority.keys.publicKey),
  ];
  if (names.length > 0) extensions.push(new x509.SubjectAlternativeNameExtension(names));
  const certificate = await x509.X509CertificateGenerator.create({
    subject: `CN=${commonName}`,
    issuer: authority.certificate.subject,
    publicKey: keys.publicKey,
    signingKey: authority.keys.privateKey,
    signingAlgorithm: ALGORITHM,
    ...validity(),
    extensions,
  });
  return { certificate, keys };
}

/** Writes NAME.pem and NAME-key.pem; returns those file names. */
async function writePair(dir: string, name: string, issued: Issued): Promise<string[]> {
  const files = [`${name}.pem`, `${name}-key.pem`];
  await writeFile(join(dir, files[0]!), issued.certificate.toString("pem") + "\n");
  await writeFile(join(dir, files[1]!), await privateKeyPem(issued.keys.privateKey), { mode: 0o600 });
  return files;
}

/** Writes ca.pem, node-ID[-key].pem, NAME-client[-key].pem, model.conf, policy.csv and gossip.key into `dir`; returns the file names. */
export async function writeDevCertificates(dir: string, options: DevCertificatesOptions): Promise<string[]> {
  await makeDirectory(dir);
  const authority = await createAuthority();
  const written = await writePair(dir, "ca", authority);
  for (const node of options.nodes) {
    const names: x509.JsonGeneralNames = [
      { type: "ip", value: "127.0.0.1" },
      { type: "dns", value: "localhost" },
      { type: "url", value: nodeIdUri(node) },
    ];
    // A node is a server to clients and peers, and a client when it dials its peers.
    written.push(...(await writePair(dir, `node-${node}`, await issue(authority, node, names, [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]))));
  }
  for (const client of options.clients) {
    written.push(...(await writePair(dir, `${client}-client`, await issue(authority, client, [], [x509.ExtendedKeyUsage.clientAuth]))));
  }
  await writeFile(join(dir, "model.conf"), SAMPLE_ACL_MODEL);
  await writeFile(join(dir, "policy.csv"), samplePolicy(options.nodes));
  // The cluster's gossip key (--gossip-key), base64 as `openssl rand -base64 32` writes it.
  await writeFile(join(dir, "gossip.key"), randomBytes(32).toString("base64") + "\n", { mode: 0o600 });
  written.push("model.conf", "policy.csv", "gossip.key");
  return written;
}
