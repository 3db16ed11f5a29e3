// Whether the other members are up, as this node can tell from the Raft traffic it hears: a leader
// hears from every member it replicates to (answers to its heartbeats), a follower only from the
// leader. Heard within `aliveMs` is alive, within `suspectMs` suspect, longer (or never since this
// node started) dead; a member this node has no reason to hear from is unknown. Where the node
// gossips, gossip's view replaces this one (member-gossip.ts), adding `left` (a graceful stop).
export type Liveness = "alive" | "suspect" | "dead" | "left" | "unknown";

export interface PeerLivenessOptions {
  /** A member heard from within this long is alive. */
  readonly aliveMs: number;
  /** A member not alive but heard from within this long is suspect; beyond it, dead. */
  readonly suspectMs: number;
  /** Milliseconds by this node's clock. */
  readonly now: () => number;
}

export class PeerLiveness {
  private readonly heardAt = new Map<number, number>();
  private readonly startedAt: number;

  constructor(private readonly options: PeerLivenessOptions) {
    if (!(options.aliveMs > 0 && options.suspectMs > options.aliveMs)) throw new Error(`liveness windows out of order: alive ${options.aliveMs} ms, suspect ${options.suspectMs} ms`);
    this.startedAt = options.now();
  }

  /** Raft traffic arrived from `nodeId`. */
  heard(nodeId: number): void {
    this.heardAt.set(nodeId, this.options.now());
  }

  /** Whether Raft traffic ever arrived from `nodeId` (since this node started, or since it was forgotten). */
  hasHeard(nodeId: number): boolean {
    return this.heardAt.has(nodeId);
  }

  /** `nodeId` left the cluster. */
  forget(nodeId: number): void {
    this.heardAt.delete(nodeId);
  }

  /**
   * How `nodeId` looks when this node expects to hear from it (`expected`: it leads, or `nodeId`
   * does). A member never heard from is judged from this node's start, so a fresh leader does not
   * call its members dead before it could hear them.
   */
  of(nodeId: number, expected: boolean): Liveness {
    if (!expected) return "unknown";
    const silentMs = this.options.now() - (this.heardAt.get(nodeId) ?? this.startedAt);
    if (silentMs <= this.options.aliveMs) return "alive";
    return silentMs <= this.options.suspectMs ? "suspect" : "dead";
  }
}
