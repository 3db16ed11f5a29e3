// One accepted Raft connection: reads the hello, then frames, and delivers each decoded message in
// order. Anything that breaks the protocol closes this connection only.
import assert from "node:assert/strict";
import type { Socket } from "node:net";
import { decodeHello, FRAME_HEADER_BYTES, FrameReader, HELLO_BYTES } from "./frame-reader.ts";
import { decodeMessage } from "./message-codec.ts";
import type { PeerMessage } from "./peer-message.ts";
import { CodecError } from "./transport-errors.ts";
import type { TransportCounters } from "./transport-stats.ts";

export interface InboundContext {
  readonly nodeId: number;
  readonly frameBytesMax: number;
  readonly counters: TransportCounters;
  readonly deliver: (message: PeerMessage) => void;
  /**
   * Whether the connection may speak for node `senderId` (the id its hello claims): over mutual TLS,
   * its verified certificate must name that node, so that no one speaks for another.
   */
  readonly authenticates: (socket: Socket, senderId: number) => boolean;
  readonly onError: (error: Error) => void;
}

/**
 * An accepted connection that brings nothing for this long, not even its hello, is closed, so that a
 * dead, stalled or hostile one does not hold one of the node's connectionsMax places forever. Between
 * a leader and a follower something passes every tick (heartbeats and their answers, 50 ms by
 * default); a connection between two followers is quiet between elections, and its peer simply
 * dials again when it next has something to send.
 */
export const INBOUND_IDLE_TIMEOUT_MS = 5_000;

export class InboundConnection {
  private readonly reader: FrameReader;
  /** The sender named in the hello; 0 until the hello has arrived. */
  private senderId = 0;
  private readonly closed: Promise<void>;

  /** Takes ownership of `socket`; nothing is read until `start`. */
  constructor(
    private readonly socket: Socket,
    private readonly context: InboundContext,
    onClose: (connection: InboundConnection) => void,
  ) {
    assert.ok(!socket.destroyed, "an inbound socket must be open when accepted");
    this.reader = new FrameReader(context.frameBytesMax);
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
    void this.closed.then(() => onClose(this));
    // Resets and aborts from a dying peer are normal; the close that follows is all that matters.
    socket.on("error", () => {});
    socket.setTimeout(INBOUND_IDLE_TIMEOUT_MS);
    socket.once("timeout", () => socket.destroy());
  }

  /**
   * Starts reading. `firstBytes` are bytes already read from the socket, starting with the
   * connection's first byte; they are processed (and may be delivered) before this returns, ahead of
   * anything the socket delivers later.
   */
  start(firstBytes: Buffer): void {
    this.socket.on("data", (chunk: Buffer) => this.receive(chunk));
    // A sniffing server may have paused the socket to peek at its first byte.
    this.socket.resume();
    if (firstBytes.length > 0) this.receive(firstBytes);
  }

  /** Destroys the socket; resolves once it is closed. */
  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }

  private receive(chunk: Buffer): void {
    if (this.socket.destroyed) return;
    this.reader.push(chunk);
    try {
      this.drain();
    } catch (error) {
      if (!(error instanceof CodecError)) throw error;
      this.context.counters.connectionsRejected += 1;
      this.context.onError(error);
      this.socket.destroy();
    }
  }

  /** Delivers every complete frame buffered; stops early if a delivery closed the connection. */
  private drain(): void {
    if (this.senderId === 0) {
      const hello = this.reader.take(HELLO_BYTES);
      if (hello === null) return;
      const senderId = decodeHello(hello);
      if (!this.context.authenticates(this.socket, senderId)) {
        throw new CodecError("bad-sender", `the connection's certificate does not name node ${senderId}, whose hello it sent`);
      }
      this.senderId = senderId;
    }
    const { counters, nodeId } = this.context;
    while (!this.socket.destroyed) {
      const frame = this.reader.nextFrame();
      if (frame === null) return;
      counters.bytesReceived += FRAME_HEADER_BYTES + frame.length;
      const message = decodeMessage(frame);
      if (message.from !== this.senderId) {
        throw new CodecError("bad-sender", `message from ${message.from} on the connection of node ${this.senderId}`);
      }
      if (message.to !== nodeId) {
        counters.drop("misaddressed");
        continue;
      }
      counters.messagesReceived += 1;
      this.context.deliver(message);
    }
  }
}
