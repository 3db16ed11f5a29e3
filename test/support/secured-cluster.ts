// A 3-node cluster of processes with TLS everywhere: development certificates (test/support/dev-certs.ts),
// each node serving its own certificate with the CA and the sample ACL, and test clients holding root's.
import type { TestContext } from "node:test";
import { clientTls, devCerts, type DevCerts } from "./dev-certs.ts";
import { ProcessCluster, type NodePlacement } from "./process-cluster.ts";

/** `loghouse serve` arguments that secure node `id` with the certificates in `certs`. */
export function securedNodeArgs(certs: DevCerts, id: number): string[] {
  return [
    "--tls-cert", certs.path(`node-${id}.pem`),
    "--tls-key", certs.path(`node-${id}-key.pem`),
    "--tls-ca", certs.path("ca.pem"),
    "--acl-model", certs.path("model.conf"),
    "--acl-policy", certs.path("policy.csv"),
  ];
}

export async function securedProcessCluster(t: TestContext, root: string, placement?: NodePlacement, ids: readonly number[] = [1, 2, 3]): Promise<{ cluster: ProcessCluster; certs: DevCerts }> {
  const certs = await devCerts(t, ids.map(String));
  const cluster = new ProcessCluster(root, placement, (id) => securedNodeArgs(certs, id), { tls: await clientTls(certs, "root") });
  return { cluster, certs };
}
