// Gossip datagrams on the node's one port number: a UDP socket bound to the same number as the TCP
// listener (the two protocols have separate port spaces, so "one port" still holds for operators and
// firewalls: open 8400/tcp and 8400/udp), every datagram sealed with the cluster's gossip key.
//
// Why UDP and not the authenticated TCP peer connections: SWIM's probes measure whether a member
// answers *now*. On TCP a probe queues behind whatever the connection carries: at 1 Gb/s a 1 MiB Raft
// append ahead of it costs 8 ms, and a 64 MiB segment sent to a catching-up follower 0.5 s, the whole
// probe timeout, so a busy follower would be suspected exactly when it is working hardest. A member
// would also need a connection to every other member (n² TLS sessions, 2,450 at 50 nodes) just to be
// probed, where Raft only needs leader-follower links. A datagram costs no connection, handshake or
// per-peer state, and a lost one is the loss SWIM is built to tolerate (indirect probes, suspicion).
// Authentication is AES-256-GCM with the cluster's gossip key instead of mTLS: a datagram from a
// sender without the key fails its tag and is counted and dropped before decoding.
//
// Measured here (npm run bench:gossip, 127.0.0.1, 2 shared cores): a probe round trip (sealed ping,
// decode, core, sealed ack) p50 0.045 ms, p99 0.44 ms, beside 0.021 / 0.11 ms for a bare datagram
// echo; 422 B/s sent per node among 5 real members probing every 200 ms (the simulator says 494, the
// envelope 464), so about 100 B/s per node at memberlist's one-second LAN timings (simulated: 99 B/s
// at 5 members, 203 B/s at 50, push-pull included).
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { parsePeerAddress, type PeerAddress } from "../cluster/outbound-peer.ts";
import { DATAGRAM_BYTES_MAX } from "./gossip-config.ts";
import { GossipSeal } from "./gossip-seal.ts";

export interface UdpTransportCounters {
  datagramsSent: number;
  bytesSent: number;
  datagramsReceived: number;
  bytesReceived: number;
  /** Datagrams over DATAGRAM_BYTES_MAX, or failing the key (wrong key, no key, tampered): dropped unread. */
  droppedTooLarge: number;
  droppedUnauthenticated: number;
  /** Sends the operating system refused (unresolvable name, unreachable network). */
  sendErrors: number;
}

export interface UdpTransportOptions {
  /** The address to bind (the node's listen host), "0.0.0.0" or "::" for all. */
  readonly host: string;
  /** The node's port number (0: any, for tests that read `port` afterwards). */
  readonly port: number;
  /** The 32-byte cluster gossip key; undefined sends and accepts plaintext only (loopback, --insecure). */
  readonly key: Buffer | undefined;
}

export class UdpTransport {
  readonly counters: UdpTransportCounters = {
    datagramsSent: 0,
    bytesSent: 0,
    datagramsReceived: 0,
    bytesReceived: 0,
    droppedTooLarge: 0,
    droppedUnauthenticated: 0,
    sendErrors: 0,
  };
  private receiver: (from: string, payload: Buffer) => void = () => {};

  private constructor(
    private readonly socket: Socket,
    private readonly seal: GossipSeal,
  ) {
    socket.on("message", (datagram, rinfo) => this.received(datagram, rinfo.family === "IPv6" ? `[${rinfo.address}]:${rinfo.port}` : `${rinfo.address}:${rinfo.port}`));
    socket.on("error", () => this.counters.sendErrors++);
  }

  /** Binds the socket; rejects when the port is taken (or the host is not local). */
  static async open(options: UdpTransportOptions): Promise<UdpTransport> {
    const seal = new GossipSeal(options.key);
    const socket = createSocket({ type: isIPv6(options.host) ? "udp6" : "udp4" });
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(options.port, options.host, () => {
        socket.off("error", reject);
        resolve();
      });
    });
    return new UdpTransport(socket, seal);
  }

  /** The bound port number. */
  get port(): number {
    return this.socket.address().port;
  }

  /** Delivers every authenticated datagram's payload to `receiver` with its sender's host:port. */
  onReceive(receiver: (from: string, payload: Buffer) => void): void {
    this.receiver = receiver;
  }

  /** Seals and sends `payload` to `address` (host:port); failures are counted, never thrown. */
  send(address: string, payload: Uint8Array): void {
    let peer: PeerAddress;
    try {
      peer = parsePeerAddress(address);
    } catch {
      this.counters.sendErrors++;
      return;
    }
    const datagram = this.seal.seal(payload);
    this.counters.datagramsSent++;
    this.counters.bytesSent += datagram.length;
    this.socket.send(datagram, peer.port, peer.host, (error) => {
      if (error) this.counters.sendErrors++;
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  private received(datagram: Buffer, from: string): void {
    this.counters.datagramsReceived++;
    this.counters.bytesReceived += datagram.length;
    if (datagram.length > DATAGRAM_BYTES_MAX) {
      this.counters.droppedTooLarge++;
      return;
    }
    const payload = this.seal.open(datagram);
    if (payload === undefined) {
      this.counters.droppedUnauthenticated++;
      return;
    }
    this.receiver(from, payload);
  }
}
