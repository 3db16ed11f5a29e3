// Counters of the Raft transport. Counters only grow; gauges (queuedBytes, connections*) are current.

/** Why a message was dropped. Raft tolerates loss (it retries), so drops are counted, never thrown. */
export type DropReason = "queueFull" | "unknownPeer" | "tooLarge" | "unreachable" | "misaddressed";

export interface RaftTransportStats {
  /** Messages handed to a connected socket. A connection lost afterwards may still lose them. */
  messagesSent: number;
  /** Inbound messages delivered to onMessage. */
  messagesReceived: number;
  /** Frame bytes (header plus message) handed to sockets and received from them. */
  bytesSent: number;
  bytesReceived: number;
  /** Sum of the drop counters below. */
  messagesDropped: number;
  /** Outbound: the peer's queue was at `queueBytesMax` (a slow or stalled peer). */
  droppedQueueFull: number;
  /** Outbound: no address is set for the message's `to`. */
  droppedUnknownPeer: number;
  /** Outbound: the encoded message exceeds `frameBytesMax`. */
  droppedTooLarge: number;
  /** Outbound: the peer's connection failed (queued messages) or is backing off, or the transport closed. */
  droppedUnreachable: number;
  /** Inbound: the message was addressed to another node. */
  droppedMisaddressed: number;
  /** Bytes waiting to be sent to all peers, queued or buffered in their sockets. */
  queuedBytes: number;
  /** Open outbound connections (established) and open inbound connections. */
  connectionsOutbound: number;
  connectionsInbound: number;
  /** Inbound connections closed because they broke the protocol (bad hello, frame or message). */
  connectionsRejected: number;
  /** Outbound connections that failed to establish, timed out or were lost. */
  connectFailures: number;
}

/** The counters a transport and its connections update; gauges are computed when stats are read. */
export class TransportCounters {
  messagesSent = 0;
  messagesReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;
  connectionsRejected = 0;
  connectFailures = 0;
  readonly dropped: Record<DropReason, number> = {
    queueFull: 0,
    unknownPeer: 0,
    tooLarge: 0,
    unreachable: 0,
    misaddressed: 0,
  };

  drop(reason: DropReason, count = 1): void {
    this.dropped[reason] += count;
  }

  snapshot(gauges: Pick<RaftTransportStats, "queuedBytes" | "connectionsOutbound" | "connectionsInbound">): RaftTransportStats {
    const d = this.dropped;
    return {
      messagesSent: this.messagesSent,
      messagesReceived: this.messagesReceived,
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      messagesDropped: d.queueFull + d.unknownPeer + d.tooLarge + d.unreachable + d.misaddressed,
      droppedQueueFull: d.queueFull,
      droppedUnknownPeer: d.unknownPeer,
      droppedTooLarge: d.tooLarge,
      droppedUnreachable: d.unreachable,
      droppedMisaddressed: d.misaddressed,
      connectionsRejected: this.connectionsRejected,
      connectFailures: this.connectFailures,
      ...gauges,
    };
  }
}
