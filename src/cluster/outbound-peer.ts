// The outbound side of one peer: a lazily dialled connection, a bounded queue of encoded frames, and
// redialling with exponential backoff after a failure.
//
// States: idle (no connection; the next message dials) → connecting (messages queue) → connected
// (queued frames are flushed once per event-loop turn) → on failure, backoff (messages are dropped:
// the peer is known to be down and Raft will resend) → idle when the delay ends → closed (final).
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { InvalidArgumentError } from "../errors.ts";
import { encodeHello } from "./frame-reader.ts";
import { dialPeer, type PeerTls } from "./peer-dial.ts";
import type { RaftTransportConfig } from "./transport-config.ts";
import { PeerUnavailableError } from "./transport-errors.ts";
import type { TransportCounters } from "./transport-stats.ts";

export interface PeerAddress {
  readonly host: string;
  readonly port: number;
  /** As given: `host:port`, `[v6]:port`. */
  readonly text: string;
}

/** Parses `host:port` or `[ipv6]:port`; throws InvalidArgumentError otherwise. */
export function parsePeerAddress(text: string): PeerAddress {
  const colon = typeof text === "string" ? text.lastIndexOf(":") : -1;
  const portText = colon < 0 ? "" : text.slice(colon + 1);
  const port = /^[0-9]{1,5}$/.test(portText) ? Number(portText) : NaN;
  let host = colon < 0 ? "" : text.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host.length === 0 || !(port >= 1 && port <= 65535)) {
    throw new InvalidArgumentError(`peer address must be host:port, got ${JSON.stringify(text)}`);
  }
  return { host, port, text };
}

export interface OutboundContext {
  readonly config: RaftTransportConfig;
  readonly counters: TransportCounters;
  /** Asks for `flush()` to be called later in this event-loop turn's wake-up (batching). */
  readonly requestFlush: (peer: OutboundPeer) => void;
  /** Mutual TLS for every new connection, when the cluster runs with TLS. */
  readonly peerTls: () => PeerTls | undefined;
  /** The name a peer's certificate must carry, by the peer's Raft id. */
  readonly peerNameOf: (nodeId: number) => string;
}

type PeerState = "idle" | "connecting" | "connected" | "backoff" | "closed";

export class OutboundPeer {
  private state: PeerState = "idle";
  private socket: Socket | null = null;
  private socketClosed: Promise<void> = Promise.resolve();
  /** Queued frames, each as one or more pieces. */
  private queue: Buffer[] = [];
  private queueBytes = 0;
  private queueFrames = 0;
  /** Consecutive failed or lost connections; sets the backoff delay. */
  private failures = 0;
  private backoffTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly id: number,
    readonly address: PeerAddress,
    private readonly context: OutboundContext,
  ) {}

  get connected(): boolean {
    return this.state === "connected";
  }

  /** Bytes waiting to reach the peer: queued here plus buffered in the socket. */
  get pendingBytes(): number {
    return this.queueBytes + (this.socket?.writableLength ?? 0);
  }

  /**
   * Whether a frame of `frameBytes` can be queued now. If not, the drop is counted and the caller
   * discards the message (without encoding it).
   */
  admit(frameBytes: number): boolean {
    assert.notEqual(this.state, "closed", "a closed peer admits nothing");
    if (this.state === "backoff") {
      this.context.counters.drop("unreachable");
      return false;
    }
    if (this.pendingBytes + frameBytes > this.context.config.queueBytesMax) {
      this.context.counters.drop("queueFull");
      return false;
    }
    return true;
  }

  /** Queues an admitted frame, given as the pieces it is written in; dials if there is no connection yet. */
  enqueue(pieces: readonly Buffer[]): void {
    assert.ok(this.state !== "closed" && this.state !== "backoff", "enqueue only what admit() accepted");
    for (const piece of pieces) {
      this.queue.push(piece);
      this.queueBytes += piece.length;
    }
    this.queueFrames += 1;
    assert.ok(this.pendingBytes <= this.context.config.queueBytesMax, "queue over its bound");
    if (this.state === "idle") this.dial();
    else if (this.state === "connected") this.context.requestFlush(this);
  }

  /** Hands every queued frame to the socket in one corked write (one writev), if connected. */
  flush(): void {
    if (this.state !== "connected" || this.queue.length === 0) return;
    const socket = this.socket;
    assert.ok(socket !== null, "a connected peer has a socket");
    socket.cork();
    for (const frame of this.queue) socket.write(frame);
    socket.uncork();
    this.context.counters.messagesSent += this.queueFrames;
    this.context.counters.bytesSent += this.queueBytes;
    this.queue = [];
    this.queueBytes = 0;
    this.queueFrames = 0;
  }

  /** Drops queued frames, cancels any redial and destroys the connection; resolves once it is closed. */
  close(): Promise<void> {
    if (this.state === "closed") return this.socketClosed;
    this.state = "closed";
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
    this.dropQueue();
    const socket = this.socket;
    this.socket = null;
    socket?.destroy();
    return this.socketClosed;
  }

  private dial(): void {
    assert.equal(this.state, "idle");
    assert.equal(this.socket, null);
    this.state = "connecting";
    const { socket, readyEvent } = dialPeer(this.address, this.context.peerTls(), this.context.peerNameOf(this.id));
    this.socket = socket;
    this.socketClosed = new Promise((resolve) => socket.once("close", () => resolve()));
    let failure: Error | undefined;
    socket.setNoDelay(true);
    socket.setTimeout(this.context.config.connectTimeoutMs);
    socket.once("timeout", () => socket.destroy(new Error("connect timed out")));
    socket.on("error", (error) => (failure = error));
    socket.once(readyEvent, () => this.onConnect(socket));
    socket.once("close", () => this.onClose(socket, failure));
    // The peer never writes on this connection; reading keeps the socket noticing the peer's close.
    socket.on("data", () => {});
  }

  private onConnect(socket: Socket): void {
    if (socket !== this.socket) return;
    socket.setTimeout(0);
    this.state = "connected";
    this.failures = 0;
    socket.cork();
    socket.write(encodeHello(this.context.config.nodeId));
    this.flush();
    socket.uncork();
  }

  private onClose(socket: Socket, failure: Error | undefined): void {
    if (socket !== this.socket) return;
    this.socket = null;
    this.dropQueue();
    this.context.counters.connectFailures += 1;
    const reason = failure?.message ?? "connection closed by the peer";
    this.context.config.onError(new PeerUnavailableError(this.id, this.address.text, reason, { cause: failure }));
    this.state = "backoff";
    this.backoffTimer = setTimeout(() => this.endBackoff(), this.backoffDelayMs());
    this.failures += 1;
  }

  private endBackoff(): void {
    assert.equal(this.state, "backoff");
    this.backoffTimer = null;
    this.state = "idle";
  }

  /** Doubles from the minimum with each consecutive failure, up to the maximum; jittered by up to half. */
  private backoffDelayMs(): number {
    const { min, max } = this.context.config.reconnectDelayMs;
    const ceiling = Math.min(max, min * 2 ** Math.min(this.failures, 30));
    return Math.max(1, Math.round(ceiling / 2 + (Math.random() * ceiling) / 2));
  }

  private dropQueue(): void {
    if (this.queueFrames > 0) this.context.counters.drop("unreachable", this.queueFrames);
    this.queue = [];
    this.queueBytes = 0;
    this.queueFrames = 0;
  }
}
