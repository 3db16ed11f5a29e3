// Dialling another node: plaintext, or mutual TLS with this node's own certificate when the cluster
// runs with TLS. Over TLS the node dialled must prove it is the node expected: its certificate, signed
// by the cluster's CA, names that node (CN or the node-id URI SAN, by the node's name), or at least
// some node when the node is not known (an admin request to a contact address).
import { connect as connectPlain, type Socket } from "node:net";
import { connect as connectTls, type PeerCertificate, type SecureContext } from "node:tls";
import { certificateNamesNode, certificateNamesSomeNode, PEER_ALPN } from "../security/peer-identity.ts";
import type { PeerAddress } from "./outbound-peer.ts";

/** This node's TLS for talking to its peers; read at every dial, so a rotated certificate is used by the next connection. */
export interface PeerTls {
  /** This node's certificate and key, and the CA its peers' certificates are verified against. */
  secureContext(): SecureContext;
}

export interface PeerDial {
  readonly socket: Socket;
  /** The event the socket emits once it can carry the protocol: "connect", or "secureConnect" after the handshake. */
  readonly readyEvent: "connect" | "secureConnect";
}

/** Dials `address`; over TLS the peer's certificate must name node `peerName` (or any node when undefined). */
export function dialPeer(address: PeerAddress, peerTls: PeerTls | undefined, peerName: string | undefined): PeerDial {
  if (peerTls === undefined) return { socket: connectPlain({ host: address.host, port: address.port }), readyEvent: "connect" };
  const socket = connectTls({
    host: address.host,
    port: address.port,
    secureContext: peerTls.secureContext(),
    ALPNProtocols: [PEER_ALPN],
    // Peers are told apart by node id, not by host name: the address may be any of theirs.
    checkServerIdentity: (_host: string, certificate: PeerCertificate) => {
      const named = peerName === undefined ? certificateNamesSomeNode(certificate) : certificateNamesNode(certificate, peerName);
      return named ? undefined : new Error(`the certificate at ${address.text} does not name node ${peerName ?? "(any)"}`);
    },
  });
  return { socket, readyEvent: "secureConnect" };
}
