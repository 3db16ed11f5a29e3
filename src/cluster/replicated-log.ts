// A cluster member's log as the RPC layer serves it: reads are the committed view of this replica;
// appends are proposed through Raft on the leader, and forwarded to the leader from a follower, so
// a client can write through any node. A node removed from the cluster answers NodeRemovedError. A
// damaged record a reader meets answers DataLossError and starts the node's repair from its peers.
import { ClusterUnavailableError, DataLossError, InvalidArgumentError, NotLeaderError } from "../errors.ts";
import type { AppendCall, AppendedBatch, LogRecord, ProducerAppender, ProducerBatch, ReadLimits, ServedLog } from "../storage/index.ts";
import type { Replica } from "./replica.ts";
import { delay, systemTimers, type Timers } from "./timers.ts";

/** What a replicated log needs from its cluster member (a ClusterNode; a simulated server in the simulator). */
export interface ReplicatedLogMember {
  /** The Raft replica now running. */
  readonly replica: Replica;
  /** host:port where this member is reachable. */
  readonly address: string;
  /** Address of the current leader, if known. */
  readonly leaderAddress: string | undefined;
  /** Throws NodeRemovedError once the member knows it was removed from the cluster. */
  assertMember(): void;
  /** A reader met a damaged record: the member repairs its log from its peers. */
  damageFound(error: DataLossError): void;
}

/** Sends records to the leader at `address` (host:port) within `call`'s deadline and cancellation; resolves with the first offset. */
export type ForwardAppend = (address: string, values: readonly Uint8Array[], call: AppendCall) => Promise<number>;

const FORWARD_ATTEMPTS_MAX = 5;

export class ReplicatedLog implements ServedLog, ProducerAppender {
  constructor(
    private readonly node: ReplicatedLogMember,
    private readonly forward: ForwardAppend,
    private readonly timers: Timers = systemTimers,
  ) {}

  get lowestOffset(): number {
    return this.node.replica.committed.lowestOffset;
  }

  get nextOffset(): number {
    return this.node.replica.committed.nextOffset;
  }

  get highestOffset(): number | undefined {
    return this.node.replica.committed.highestOffset;
  }

  /**
   * Appends through Raft: resolves with the first offset once the records are fsynced on a majority.
   * Term and type are Raft's to set; a caller cannot choose them. A follower forwards them with
   * `call`'s deadline and cancellation, again to the new leader if the one asked no longer leads;
   * its waits for an election, or for news of the new leader, end when the call goes away.
   */
  async append(values: readonly Uint8Array[], call: AppendCall = {}): Promise<number> {
    if (values.length === 0) throw new InvalidArgumentError("append needs at least one record");
    this.node.assertMember();
    for (let attempt = 0; ; attempt++) {
      if (this.node.replica.isLeader) return this.node.replica.propose(values);
      const leader = this.node.leaderAddress;
      if (leader === undefined || leader === this.node.address) {
        if (attempt + 1 >= FORWARD_ATTEMPTS_MAX) throw new ClusterUnavailableError("no leader is known; retry shortly");
        // An election is under way; it takes a few election timeouts at most.
        await delay(this.timers, 100 * (attempt + 1), call.signal);
        continue;
      }
      try {
        return await this.forward(leader, values, call);
      } catch (error) {
        // The leader moved between our view and its answer: look again, once this node has heard of the new one.
        if (!(error instanceof NotLeaderError) || attempt + 1 >= FORWARD_ATTEMPTS_MAX) throw error;
        if (this.node.leaderAddress === leader) await delay(this.timers, 100 * (attempt + 1), call.signal);
      }
    }
  }

  /**
   * Appends an idempotent producer's batch once (see Replica.appendOnce). Only the leader decides;
   * a follower does not forward it but answers NotLeaderError naming the leader and its address, for
   * the client to send it there (a forward that failed midway would leave its outcome unknown to both).
   */
  async appendOnce(values: readonly Uint8Array[], batch: ProducerBatch): Promise<AppendedBatch> {
    if (values.length === 0) throw new InvalidArgumentError("append needs at least one record");
    this.node.assertMember();
    try {
      return await this.node.replica.appendOnce(values, batch);
    } catch (error) {
      const leaderAddress = this.node.leaderAddress;
      if (!(error instanceof NotLeaderError) || error.leaderId === 0 || leaderAddress === undefined) throw error;
      throw new NotLeaderError(error.message, error.leaderId, leaderAddress);
    }
  }

  read(offset: number | bigint): LogRecord {
    this.node.assertMember();
    return this.reading(() => this.node.replica.committed.read(offset));
  }

  readRange(offset: number | bigint, limits?: ReadLimits): LogRecord[] {
    this.node.assertMember();
    return this.reading(() => this.node.replica.committed.readRange(offset, limits));
  }

  assertServing(): void {
    this.node.assertMember();
  }

  offsetForTime(ms: number): number | undefined {
    this.node.assertMember();
    return this.node.replica.committed.offsetForTime(ms);
  }

  /** Runs a read; damage it meets is reported to the node (which repairs it) and thrown on. */
  private reading<T>(read: () => T): T {
    try {
      return read();
    } catch (error) {
      if (error instanceof DataLossError) this.node.damageFound(error);
      throw error;
    }
  }

  waitFor(offset: number, signal?: AbortSignal): Promise<void> {
    try {
      this.node.assertMember();
    } catch (error) {
      return Promise.reject(error);
    }
    return this.node.replica.committed.waitFor(offset, signal);
  }
}
