// Logs a peer lost and a peer reachable again, one line per change (not per failed redial): lost
// when a connection to a peer this node had heard from fails, reachable again when it is next heard
// from. A leader sends to every member and so notices any of them going; a follower notices the
// leader, and the members it dials during an election.
import type { Logger } from "../logger.ts";

export class PeerReachability {
  private readonly lost = new Set<number>();

  constructor(
    private readonly nodeId: number,
    private readonly logger: Logger,
    /** A member's name, for the lines (Raft ids are drawn at random). */
    private readonly nameOf: (peer: number) => string,
    /** Whether this node has heard from `peer` (PeerLiveness keeps when). */
    private readonly heardFrom: (peer: number) => boolean,
  ) {}

  /** A message from `peer` arrived. */
  heard(peer: number): void {
    if (this.lost.size > 0 && this.lost.delete(peer)) this.logger.info("peer reachable again", { nodeId: this.nodeId, peer: this.nameOf(peer), peerId: peer });
  }

  /** A connection to `peer` failed or was lost. */
  failed(peer: number, address: string, reason: string): void {
    if (!this.heardFrom(peer) || this.lost.has(peer)) return;
    this.lost.add(peer);
    this.logger.warn("peer lost", { nodeId: this.nodeId, peer: this.nameOf(peer), peerId: peer, address, reason });
  }

  /** `peer` left the cluster: nothing more is said about it. */
  forget(peer: number): void {
    this.lost.delete(peer);
  }
}
