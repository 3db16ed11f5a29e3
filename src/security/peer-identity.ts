// Who a verified certificate names: its subject CN is the principal (as in the Go original), and a
// node's certificate also names its node id in a URI SAN, so a peer's claimed id can be checked
// against the certificate it presented.
import type { PeerCertificate } from "node:tls";

const NODE_ID_URI_PREFIX = "urn:loghouse:node:";
/** The extended key usage of a certificate that may serve TLS (id-kp-serverAuth). */
const SERVER_AUTH_OID = "1.3.6.1.5.5.7.3.1";

/** The ALPN protocol id of the cluster's peer connections (Raft, repair, admin) inside TLS. */
export const PEER_ALPN = "loghouse-peer/1";

/** The URI SAN that binds a certificate to a node id. */
export function nodeIdUri(nodeId: string): string {
  return `${NODE_ID_URI_PREFIX}${nodeId}`;
}

/** The principal a certificate names (its subject CN), or undefined when it has none. */
export function certificatePrincipal(certificate: PeerCertificate | undefined): string | undefined {
  const commonName = certificate?.subject?.CN;
  // A subject with several CNs comes back as an array: ambiguous, so no principal.
  return typeof commonName === "string" && commonName.length > 0 ? commonName : undefined;
}

/**
 * Whether the certificate was issued to node `nodeId`: by the node-id URI SAN, or by its CN if it
 * may serve TLS as a node's must (no extended key usage, or one with serverAuth). A client-only
 * certificate whose CN happens to be a node's name does not name that node.
 */
export function certificateNamesNode(certificate: PeerCertificate | undefined, nodeId: string): boolean {
  if (certificate === undefined) return false;
  if (certificatePrincipal(certificate) === nodeId && mayServeTls(certificate)) return true;
  return subjectAltNames(certificate).includes(`URI:${nodeIdUri(nodeId)}`);
}

function mayServeTls(certificate: PeerCertificate): boolean {
  return certificate.ext_key_usage === undefined || certificate.ext_key_usage.includes(SERVER_AUTH_OID);
}

/** Whether the certificate was issued to a node at all (carries a node-id URI SAN). */
export function certificateNamesSomeNode(certificate: PeerCertificate | undefined): boolean {
  return subjectAltNames(certificate).some((name) => name.startsWith(`URI:${NODE_ID_URI_PREFIX}`));
}

/** The certificate's SANs as node:tls spells them ("URI:urn:...", "DNS:localhost", "IP Address:127.0.0.1"). */
function subjectAltNames(certificate: PeerCertificate | undefined): string[] {
  return (certificate?.subjectaltname ?? "").split(", ");
}
