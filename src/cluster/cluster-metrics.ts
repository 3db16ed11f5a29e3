// What a cluster member tells the node's metrics (src/observability implements it): the storage
// log's commits, each new leader it sees, and readers of its Raft and gossip state that the metrics
// call when they are scraped (nothing is computed per message or per tick).
import type { LogMetrics } from "../storage/index.ts";
import type { RaftTransportStats } from "./transport-stats.ts";

/** A member's Raft state as one scrape sees it. */
export interface RaftGauges {
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly isLeader: boolean;
  /** The other members: their match index as the leader tracks it (leader only) and the last heartbeat round trip. */
  readonly peers: ReadonlyArray<{ readonly name: string; readonly matchIndex: number | undefined; readonly rttSeconds: number | undefined }>;
  /** Produces this member forwarded to the leader and awaits the answer of, and followers' forwards it has yet to answer. */
  readonly forwardsWaiting: number;
  readonly forwardsServing: number;
  /** The Raft transport's totals so far. */
  readonly transport: Pick<RaftTransportStats, "messagesSent" | "messagesReceived" | "bytesSent" | "bytesReceived" | "messagesDropped">;
}

/** A member's gossip as one scrape sees it: the members it knows by state, and its traffic so far. */
export interface GossipGauges {
  readonly membersByState: Readonly<Record<string, number>>;
  /** Lifeguard's local health score (0: healthy; higher: this node itself is slow). */
  readonly healthScore: number;
  readonly datagramsSent: number;
  readonly bytesSent: number;
  readonly datagramsReceived: number;
  readonly bytesReceived: number;
  /** Datagrams that failed the gossip key (wrong or no key, tampered). */
  readonly datagramsUnauthenticated: number;
  readonly probesFailed: number;
}

export interface ClusterMetrics extends LogMetrics {
  /** Called once, as the member opens; `read` is called at most once per scrape. */
  observeRaft(read: () => RaftGauges): void;
  /** Called once, as the member starts gossiping; `read` is called at most once per scrape. */
  observeGossip(read: () => GossipGauges): void;
  /** This member learned of a leader other than the last one it knew. */
  leaderChanged(): void;
}
