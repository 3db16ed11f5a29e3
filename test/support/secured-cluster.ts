// A 3-node cluster of processes with TLS everywhere: development certificates (test/support/dev-certs.ts),
// each node serving its own certificate with the CA and the sample ACL, and test clients holding root's.
import type { TestContext } from "node:test";
import type { ClientOptions } from "../../src/client/client.ts";
import { certificateNamesSomeNode } from "../../src/security/peer-identity.ts";
import { clientTls, devCerts, type DevCerts } from "./dev-certs.ts";
import { ProcessCluster, type NodePlacement } from "./process-cluster.ts";

/** `loghouse serve` arguments that secure node `id` with the certificates in `certs` (and seal its gossip with their gossip key). */
export function securedNodeArgs(certs: DevCerts, id: number | string): string[] {
  return [
    "--tls-cert", certs.path(`node-${id}.pem`),
    "--tls-key", certs.path(`node-${id}-key.pem`),
    "--tls-ca", certs.path("ca.pem"),
    "--acl-model", certs.path("model.conf"),
    "--acl-policy", certs.path("policy.csv"),
    "--gossip-key", certs.path("gossip.key"),
  ];
}

/**
 * Root's client: it accepts any node's certificate from the CA whatever address it dialled (nodes in a
 * network lab listen on addresses their certificates do not name).
 */
export async function securedClientOptions(certs: DevCerts): Promise<ClientOptions> {
  const checkServerIdentity = (_host: string, certificate: import("node:tls").PeerCertificate): Error | undefined =>
    certificateNamesSomeNode(certificate) ? undefined : new Error("not a node's certificate");
  return { tls: { ...(await clientTls(certs, "root")), checkServerIdentity } };
}

/** The cluster, and certificates for its nodes and for clients root, nobody and one named like each node (`2-client`: a client, not node 2). */
export async function securedProcessCluster(t: TestContext, root: string, placement?: NodePlacement, ids: readonly number[] = [1, 2, 3]): Promise<{ cluster: ProcessCluster; certs: DevCerts }> {
  const certs = await devCerts(t, ids.map(String), ["root", "nobody", ...ids.map(String)]);
  const cluster = new ProcessCluster(root, placement, (id) => securedNodeArgs(certs, id), await securedClientOptions(certs));
  return { cluster, certs };
}
