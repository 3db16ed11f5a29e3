// The metrics of one node, in its own prom-client Registry (never the global default registry: a
// test process runs several nodes, and each must expose only its own). Counters and histograms are
// updated where things happen, at most once per call or per group commit; gauges (log size and
// offsets, Raft state, connections) are read from their owners when /metrics is scraped, and a
// state that several gauges show is read once per scrape.
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { ClusterMetrics, GossipGauges, RaftGauges } from "../cluster/cluster-metrics.ts";
import type { Log } from "../storage/index.ts";
import { RpcMetrics } from "./rpc-metrics.ts";

/** Why the server refused a call or closed a connection over a limit. */
export type RejectionReason =
  | "unauthenticated"
  | "permission_denied"
  | "resource_exhausted"
  | "too_many_streams"
  | "shutting_down"
  | "calls_in_progress"
  | "rapid_reset"
  | "connection_limit"
  | "plaintext_refused"
  | "certificate_refused"
  | "tls_handshake_failed";

const REJECTION_REASONS: readonly RejectionReason[] = [
  "unauthenticated",
  "permission_denied",
  "resource_exhausted",
  "too_many_streams",
  "shutting_down",
  "calls_in_progress",
  "rapid_reset",
  "connection_limit",
  "plaintext_refused",
  "certificate_refused",
  "tls_handshake_failed",
];

/** What the server reports about its connections, read at scrape time. */
export interface ServerGauges {
  readonly connections: () => number;
  readonly streams: () => number;
}

/** fdatasync here takes 0.4 ms at the median (DESIGN.md §3); the buckets reach a stalled disk's seconds. */
const SYNC_BUCKETS_SECONDS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5];
/** Records per group commit: 1 (a lone Produce) to a full 64k-record batch. */
const COMMIT_RECORDS_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384, 65536];

export class NodeMetrics implements ClusterMetrics {
  /** Private: every scrape goes through exposition(), which counts it (see readOncePerScrape). */
  private readonly registry = new Registry();
  private scrapes = 0;
  readonly rpc: RpcMetrics;
  private readonly recordsAppended: Counter;
  private readonly recordsReadCounter: Counter;
  private readonly syncSeconds: Histogram;
  private readonly commitRecords: Histogram;
  private readonly rejections = new Map<RejectionReason, Counter.Internal>();
  private leaderChanges: Counter | undefined;

  constructor() {
    const registers = [this.registry];
    const rejected = new Counter({
      name: "loghouse_rejected_calls_total",
      help: "Calls refused and connections closed by the server, by reason.",
      labelNames: ["reason"] as const,
      registers,
    });
    for (const reason of REJECTION_REASONS) this.rejections.set(reason, rejected.labels(reason));
    this.rpc = new RpcMetrics(this.registry, this.rejections.get("resource_exhausted")!);
    this.recordsAppended = new Counter({ name: "loghouse_records_appended_total", help: "Records appended to this node's log, by any path (produce or replication).", registers });
    this.recordsReadCounter = new Counter({ name: "loghouse_records_read_total", help: "Records read from the log for consumers.", registers });
    this.syncSeconds = new Histogram({
      name: "loghouse_fsync_duration_seconds",
      help: "One group commit's write and fdatasync as the event loop sees it: from handing the write to the storage worker thread until the worker's completion is handled.",
      buckets: SYNC_BUCKETS_SECONDS,
      registers,
    });
    this.commitRecords = new Histogram({ name: "loghouse_commit_batch_records", help: "Records made visible by one group commit.", buckets: COMMIT_RECORDS_BUCKETS, registers });
  }

  /** The text exposition of every metric, and its content type. */
  async exposition(): Promise<{ body: string; contentType: string }> {
    this.scrapes++;
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  /**
   * `read` at most once per scrape. prom-client collects each metric on its own, and the Raft
   * gauges (13 metrics) or the gossip ones (8) would each read the same status; instead the first
   * of a scrape reads it and the others of that scrape reuse it. The memo is keyed on the count of
   * scrapes begun, so no scrape shows a value read before it began (a scrape overlapping another
   * may read the state again: fresher, never staler).
   */
  private readOncePerScrape<T>(read: () => T): () => T {
    let memo: { readonly scrape: number; readonly value: T } | undefined;
    return () => {
      if (memo?.scrape !== this.scrapes) memo = { scrape: this.scrapes, value: read() };
      return memo.value;
    };
  }

  observe(log: Log): void {
    const registers = [this.registry];
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(read());
        },
      });
    };
    gauge("loghouse_log_bytes", "Bytes of records in the log's segment stores.", () => log.storeBytes);
    gauge("loghouse_log_segments", "Segments in the log.", () => log.segmentCount);
    gauge("loghouse_log_next_offset", "Offset the next record will get (the end of what readers see).", () => log.nextOffset);
    gauge("loghouse_log_lowest_offset", "Offset of the first retained record.", () => log.lowestOffset);
  }

  committed(records: number): void {
    this.recordsAppended.inc(records);
    this.commitRecords.observe(records);
  }

  synced(seconds: number): void {
    this.syncSeconds.observe(seconds);
  }

  recordsRead(records: number): void {
    this.recordsReadCounter.inc(records);
  }

  rejected(reason: RejectionReason): void {
    this.rejections.get(reason)!.inc();
  }

  observeServer(server: ServerGauges): void {
    const registers = [this.registry];
    new Gauge({ name: "loghouse_connections", help: "TCP connections open to the node's port.", registers, collect() {
      this.set(server.connections());
    } });
    new Gauge({ name: "loghouse_streams", help: "HTTP/2 streams (RPCs) open, over every protocol.", registers, collect() {
      this.set(server.streams());
    } });
  }

  observeRaft(readState: () => RaftGauges): void {
    const registers = [this.registry];
    this.leaderChanges = new Counter({ name: "loghouse_leader_changes_total", help: "Times this member learned of a new leader.", registers });
    const read = this.readOncePerScrape(readState);
    const gauge = (name: string, help: string, value: (raft: RaftGauges) => number): void => {
      new Gauge({
        name,
        help,
        registers,
        collect() {
          this.set(value(read()));
        },
      });
    };
    gauge("loghouse_raft_term", "The member's current Raft term.", (raft) => raft.term);
    gauge("loghouse_raft_commit_index", "The highest Raft index known committed.", (raft) => raft.commitIndex);
    gauge("loghouse_raft_applied_index", "The highest Raft index applied (visible to consumers) here.", (raft) => raft.appliedIndex);
    gauge("loghouse_raft_is_leader", "1 while this member leads, else 0.", (raft) => (raft.isLeader ? 1 : 0));
    gauge("loghouse_forwards_waiting", "Produces this follower forwarded to the leader, awaiting its answer.", (raft) => raft.forwardsWaiting);
    gauge("loghouse_forwards_serving", "Followers' forwarded produces this leader has yet to answer.", (raft) => raft.forwardsServing);
    const peerGauge = (name: string, help: string, value: (peer: RaftGauges["peers"][number]) => number | undefined): void => {
      new Gauge({
        name,
        help,
        labelNames: ["peer"] as const,
        registers,
        collect() {
          this.reset();
          for (const peer of read().peers) {
            const measured = value(peer);
            if (measured !== undefined) this.labels(peer.name).set(measured);
          }
        },
      });
    };
    peerGauge("loghouse_raft_peer_match_index", "The highest index the leader knows a peer holds (on the leader only).", (peer) => peer.matchIndex);
    peerGauge("loghouse_raft_peer_rtt_seconds", "The last heartbeat round trip to a peer (measured by the leader).", (peer) => peer.rttSeconds);
    const total = (name: string, help: string, value: (transport: RaftGauges["transport"]) => number): void => scrapedCounter(registers, name, help, () => value(read().transport));
    total("loghouse_raft_messages_sent_total", "Raft messages handed to peers' connections (appends, acknowledgements, votes, heartbeats).", (transport) => transport.messagesSent);
    total("loghouse_raft_messages_received_total", "Raft messages received from peers.", (transport) => transport.messagesReceived);
    total("loghouse_raft_sent_bytes_total", "Bytes of Raft messages sent to peers.", (transport) => transport.bytesSent);
    total("loghouse_raft_received_bytes_total", "Bytes of Raft messages received from peers.", (transport) => transport.bytesReceived);
    total("loghouse_raft_messages_dropped_total", "Raft messages dropped (a peer unreachable or too slow; Raft sends again).", (transport) => transport.messagesDropped);
  }

  observeGossip(readState: () => GossipGauges): void {
    const registers = [this.registry];
    const read = this.readOncePerScrape(readState);
    new Gauge({ name: "loghouse_gossip_members", help: "Members this node's gossip knows, by state (alive, suspect, dead, left).", labelNames: ["state"] as const, registers, collect() {
      this.reset();
      for (const [state, count] of Object.entries(read().membersByState)) this.labels(state).set(count);
    } });
    new Gauge({ name: "loghouse_gossip_health_score", help: "Lifeguard's local health score: 0 healthy, higher while this node is slow to answer.", registers, collect() {
      this.set(read().healthScore);
    } });
    const total = (name: string, help: string, value: (gossip: GossipGauges) => number): void => scrapedCounter(registers, name, help, () => value(read()));
    total("loghouse_gossip_datagrams_sent_total", "Gossip datagrams sent.", (gossip) => gossip.datagramsSent);
    total("loghouse_gossip_sent_bytes_total", "Gossip bytes sent (sealed datagrams).", (gossip) => gossip.bytesSent);
    total("loghouse_gossip_datagrams_received_total", "Gossip datagrams received.", (gossip) => gossip.datagramsReceived);
    total("loghouse_gossip_received_bytes_total", "Gossip bytes received.", (gossip) => gossip.bytesReceived);
    total("loghouse_gossip_unauthenticated_datagrams_total", "Gossip datagrams dropped for failing the gossip key.", (gossip) => gossip.datagramsUnauthenticated);
    total("loghouse_gossip_probes_failed_total", "Probes of a member that got no ack, direct or indirect.", (gossip) => gossip.probesFailed);
  }

  leaderChanged(): void {
    this.leaderChanges?.inc();
  }
}

/** A counter whose total another layer keeps, read when scraped. */
function scrapedCounter(registers: Registry[], name: string, help: string, value: () => number): void {
  new Counter({ name, help, registers, collect() {
    this.reset();
    this.inc(value());
  } });
}
