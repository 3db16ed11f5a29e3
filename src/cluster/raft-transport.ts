// The Raft transport: carries Raft messages between nodes over TCP, one one-way connection per
// ordered pair of nodes (each node dials the peers it sends to and reads what its peers dial in).
// The byte stream is defined in frame-reader.ts, a message's encoding in message-codec.ts. Repair
// and forward messages (peer-message.ts) travel the same way, beside Raft's.
//
// Sending never blocks and never fails: Raft tolerates lost messages and resends what matters, so a
// message that cannot be queued (unknown peer, full queue, peer down, too large) is dropped and
// counted. What is queued in one event-loop turn goes out in one write per peer, which pipelines
// appends without waiting for answers. Forward messages (append-forwarding.ts) travel the same way;
// their sender is told whether one was queued, as it waits for an answer.
import assert from "node:assert/strict";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { TLSSocket, type PeerCertificate } from "node:tls";
import { certificateNamesNode } from "../security/peer-identity.ts";
import type { Entry, Message } from "../raft/index.ts";
import { FRAME_HEADER_BYTES } from "./frame-reader.ts";
import { InboundConnection, type InboundContext } from "./inbound-connection.ts";
import { encodedHeadBytes, encodeEntries, encodeForwardMessage, encodeRepairMessage, writeHead } from "./message-codec.ts";
import { OutboundPeer, parsePeerAddress, type OutboundContext } from "./outbound-peer.ts";
import type { PeerTls } from "./peer-dial.ts";
import { isForwardMessage, isRepairMessage, isSideMessage, type ForwardMessage, type PeerMessage, type RepairMessage } from "./peer-message.ts";
import { resolveTransportConfig, type RaftTransportConfig, type RaftTransportOptions } from "./transport-config.ts";
import { CodecError } from "./transport-errors.ts";
import { TransportCounters, type RaftTransportStats } from "./transport-stats.ts";

export type { RaftTransportOptions } from "./transport-config.ts";
export type { RaftTransportStats } from "./transport-stats.ts";

const noBytes = Buffer.alloc(0);

export class RaftTransport {
  private readonly config: RaftTransportConfig;
  private readonly counters = new TransportCounters();
  private readonly peers = new Map<number, OutboundPeer>();
  private readonly inbound = new Set<InboundConnection>();
  /** Peers with frames queued since the last flush. */
  private readonly dirty = new Set<OutboundPeer>();
  private flushScheduled: NodeJS.Immediate | null = null;
  /** Peers replaced or removed whose sockets are still closing. */
  private readonly retiring = new Set<Promise<void>>();
  /** The last entries block encoded: a leader sends the same entries to every follower. */
  private lastEntries: { readonly entries: readonly Entry[]; readonly block: Buffer } | null = null;
  private server: Server | null = null;
  private closing: Promise<void> | null = null;
  private readonly outboundContext: OutboundContext;
  private readonly inboundContext: InboundContext;
  private peerTls: PeerTls | undefined;
  private peerNameOf: (nodeId: number) => string | undefined = String;
  private peerMayReplicate: (certificate: PeerCertificate) => boolean = () => true;

  /** Validates `options` (InvalidConfigError naming the first bad one). Opens nothing until used. */
  constructor(options: RaftTransportOptions) {
    this.config = resolveTransportConfig(options);
    const { nodeId, frameBytesMax, onMessage, onRepairMessage, onForwardMessage, onError } = this.config;
    this.outboundContext = { config: this.config, counters: this.counters, requestFlush: (peer) => this.requestFlush(peer), peerTls: () => this.peerTls, peerNameOf: (id) => this.peerNameOf(id) ?? String(id) };
    const deliver = (message: PeerMessage): void => {
      if (!isSideMessage(message)) onMessage(message);
      else if (isRepairMessage(message) && onRepairMessage !== undefined) onRepairMessage(message);
      else if (isForwardMessage(message) && onForwardMessage !== undefined) onForwardMessage(message);
      else this.counters.drop("misaddressed");
    };
    this.inboundContext = { nodeId, frameBytesMax, counters: this.counters, deliver, onError, authenticates: (socket, senderId) => this.authenticates(socket, senderId) };
  }

  /**
   * Runs every connection from now on over mutual TLS: outbound ones dial with `peerTls` and expect
   * the certificate of the node dialled, and an inbound one must have a verified certificate naming
   * the node its hello claims to be, whose principal `mayReplicate` allows (the ACL's replicate);
   * nodes are named by `nameOf` from their Raft ids (undefined: not known yet, and refused until it is).
   */
  usePeerTls(peerTls: PeerTls, nameOf: (nodeId: number) => string | undefined, mayReplicate: (certificate: PeerCertificate) => boolean): void {
    this.peerTls = peerTls;
    this.peerNameOf = nameOf;
    this.peerMayReplicate = mayReplicate;
  }

  private authenticates(socket: Socket, senderId: number): boolean {
    if (this.peerTls === undefined) return true;
    if (!(socket instanceof TLSSocket && socket.authorized)) return false;
    const name = this.peerNameOf(senderId);
    if (name === undefined) throw new CodecError("unknown-sender", `node ${senderId} is not known here yet: its certificate cannot be checked`);
    const certificate = socket.getPeerCertificate();
    return certificateNamesNode(certificate, name) && this.peerMayReplicate(certificate);
  }

  get nodeId(): number {
    return this.config.nodeId;
  }

  /**
   * Sets (or changes) the address of peer `id` as `host:port` or `[ipv6]:port`; throws
   * InvalidArgumentError if it is not one. `id` must not be this node's own id (an assertion). No
   * connection is made until a message is sent. Changing the address drops the old connection and what
   * was queued on it. Ignored once the transport is closing.
   */
  setPeer(id: number, address: string): void {
    assert.ok(Number.isSafeInteger(id) && id > 0, "peer id must be a positive safe integer");
    assert.notEqual(id, this.config.nodeId, "a node is not its own peer");
    const parsed = parsePeerAddress(address);
    if (this.closing !== null) return;
    const existing = this.peers.get(id);
    if (existing?.address.text === parsed.text) return;
    if (existing !== undefined) this.retire(existing);
    this.peers.set(id, new OutboundPeer(id, parsed, this.outboundContext));
  }

  /** Forgets peer `id`: closes its connection and drops its queue. Unknown ids are ignored. */
  removePeer(id: number): void {
    const peer = this.peers.get(id);
    if (peer !== undefined) this.retire(peer);
  }

  /**
   * Queues `message` for the peer `message.to` and returns at once. Never throws for operating
   * reasons: a message that cannot be queued is dropped and counted in `stats()`. `message.from` must
   * be this node. Entries are immutable (the Raft core's contract), so their encoding is reused when
   * the next message carries the same entry objects (a leader sending one batch to every follower).
   */
  send(message: Message): void {
    const peer = this.peerFor(message);
    if (peer === undefined) return;
    const headBytes = encodedHeadBytes(message);
    const entries = message.entries.length === 0 ? noBytes : this.encodeEntries(message.entries);
    const messageBytes = headBytes + entries.length;
    if (messageBytes > this.config.frameBytesMax) return this.counters.drop("tooLarge");
    if (!peer.admit(FRAME_HEADER_BYTES + messageBytes)) return;
    const head = Buffer.allocUnsafe(FRAME_HEADER_BYTES + headBytes);
    head.writeUInt32LE(messageBytes, 0);
    const end = writeHead(message, head, FRAME_HEADER_BYTES);
    assert.equal(end, head.length, "message head encoded to a different size than computed");
    peer.enqueue(entries.length === 0 ? [head] : [head, entries]);
  }

  /** Queues a repair message for the peer `message.to`, dropping it as `send` would. */
  sendRepair(message: RepairMessage): void {
    this.queueEncoded(message, encodeRepairMessage);
  }

  /** Queues a forward message for the peer `message.to` like `sendRepair`; returns whether it was queued. */
  sendForward(message: ForwardMessage): boolean {
    return this.queueEncoded(message, encodeForwardMessage);
  }

  /** Encodes `message` with `encode` and queues it as one frame; false (the drop counted) if it cannot be. */
  private queueEncoded<M extends RepairMessage | ForwardMessage>(message: M, encode: (message: M) => Buffer): boolean {
    const peer = this.peerFor(message);
    if (peer === undefined) return false;
    const body = encode(message);
    if (body.length > this.config.frameBytesMax) {
      this.counters.drop("tooLarge");
      return false;
    }
    if (!peer.admit(FRAME_HEADER_BYTES + body.length)) return false;
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    header.writeUInt32LE(body.length, 0);
    peer.enqueue([header, body]);
    return true;
  }

  /** The peer to queue `message` for; undefined (the drop counted) when there is none to take it. */
  private peerFor(message: PeerMessage): OutboundPeer | undefined {
    assert.equal(message.from, this.config.nodeId, "a transport sends only its own node's messages");
    if (this.closing !== null) return void this.counters.drop("unreachable");
    const peer = this.peers.get(message.to);
    if (peer === undefined) this.counters.drop("unknownPeer");
    return peer;
  }

  /** The entries block for `entries`, reused when they are the entries last encoded (same objects). */
  private encodeEntries(entries: readonly Entry[]): Buffer {
    const last = this.lastEntries;
    if (last !== null && last.entries.length === entries.length && last.entries[0] === entries[0] && last.entries[entries.length - 1] === entries[entries.length - 1]) {
      return last.block;
    }
    const block = encodeEntries(entries);
    this.lastEntries = { entries, block };
    return block;
  }

  /**
   * Takes over an inbound socket whose first byte is (or will be) the Raft connection marker 0x01.
   * `firstBytes` are the bytes a sniffing server already read from the socket, starting with its very
   * first byte (so the marker, if it was consumed); pass nothing if the server only peeked (unshift)
   * or read nothing. The transport owns the socket from here and closes it on any protocol error.
   */
  acceptConnection(socket: Socket, firstBytes: Buffer = noBytes): void {
    if (this.closing !== null || socket.destroyed) {
      socket.destroy();
      return;
    }
    const connection = new InboundConnection(socket, this.inboundContext, (closed) => this.inbound.delete(closed));
    // Registered before it starts, so that a close() called from onMessage during start closes it too.
    this.inbound.add(connection);
    connection.start(firstBytes);
  }

  /**
   * Listens for Raft connections only (every connection must start with 0x01), for tests and nodes
   * that give Raft its own port. Resolves with the bound address (port 0 picks a free one).
   */
  async listen(host: string, port: number): Promise<AddressInfo> {
    assert.equal(this.server, null, "the transport listens at most once");
    assert.equal(this.closing, null, "the transport is closed");
    const server = createServer((socket) => this.acceptConnection(socket));
    this.server = server;
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(port, host, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } catch (error) {
      this.server = null;
      throw error;
    }
    server.on("error", (error) => this.config.onError(error));
    const address = server.address();
    assert.ok(address !== null && typeof address === "object", "a TCP server has an address");
    return address;
  }

  stats(): RaftTransportStats {
    let queuedBytes = 0;
    let connectionsOutbound = 0;
    for (const peer of this.peers.values()) {
      queuedBytes += peer.pendingBytes;
      if (peer.connected) connectionsOutbound += 1;
    }
    return this.counters.snapshot({ queuedBytes, connectionsOutbound, connectionsInbound: this.inbound.size });
  }

  /**
   * Closes the listener and every connection; queued messages are dropped. Idempotent. Resolves when
   * every socket is closed and no timer of the transport is left.
   */
  close(): Promise<void> {
    this.closing ??= this.closeAll();
    return this.closing;
  }

  private async closeAll(): Promise<void> {
    if (this.flushScheduled !== null) clearImmediate(this.flushScheduled);
    this.flushScheduled = null;
    this.dirty.clear();
    for (const peer of this.peers.values()) this.retire(peer);
    const pending = [...this.retiring, ...[...this.inbound].map((connection) => connection.close())];
    const server = this.server;
    if (server !== null) pending.push(new Promise<void>((resolve) => server.close(() => resolve())));
    await Promise.all(pending);
  }

  private retire(peer: OutboundPeer): void {
    if (this.peers.get(peer.id) === peer) this.peers.delete(peer.id);
    this.dirty.delete(peer);
    const closed = peer.close();
    this.retiring.add(closed);
    void closed.then(() => this.retiring.delete(closed));
  }

  private requestFlush(peer: OutboundPeer): void {
    this.dirty.add(peer);
    this.flushScheduled ??= setImmediate(() => this.flushDirty());
  }

  private flushDirty(): void {
    this.flushScheduled = null;
    for (const peer of this.dirty) peer.flush();
    this.dirty.clear();
  }
}
