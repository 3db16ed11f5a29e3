// How a node learns that it was removed from the cluster, and how it helps others learn it.
//
// A node applying its own removal may be replaying history (it lost its disk and was removed and
// added back), and a notice may be stale or forged, so neither is believed: the node asks the leader
// (through any member) whether it is a member now, and only the leader's "no" removes it. A removed
// node often never learns its removal was committed (the leader drops it from replication at once),
// so a leader that still hears Raft traffic from a node it removed tells it to ask.
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../logger.ts";
import { MembershipChangeKind, type MembershipChange } from "../raft/index.ts";
import { askLeader, sendAdminRequest } from "./admin-protocol.ts";
import { clusterField } from "../wire/cluster-id.ts";
import type { PeerTls } from "./peer-dial.ts";

/** Times a node asks the leader whether it is still a member (about 20 s in all) before giving up until the next reason to ask. */
const MEMBER_CHECK_ATTEMPTS_MAX = 20;

export interface RemovalWatchOptions {
  readonly nodeId: number;
  /** Where each known node listens (this one included). */
  readonly addresses: () => Readonly<Record<string, string>>;
  /** This node's cluster, named in its requests once known (a node of another cluster refuses them). */
  readonly clusterId: () => string | undefined;
  /** Mutual TLS for admin requests, when the cluster runs with TLS. */
  readonly peerTls: () => PeerTls | undefined;
  /** Called once the leader confirms this node is not a member. */
  readonly onRemoved: (reason: string) => void;
  readonly logger: Logger;
  /** Aborted when the node closes. */
  readonly signal: AbortSignal;
}

export class RemovalWatch {
  /** Nodes whose latest applied membership change removed them. */
  private readonly removed = new Set<number>();
  /** Removed nodes being told now (one notice at a time each). */
  private readonly notifying = new Set<number>();
  /** The question to the leader, while it is asked. */
  private asking: Promise<void> | null = null;
  private settled = false;

  constructor(private readonly options: RemovalWatchOptions) {}

  /** Follows an applied membership change; this node's own removal makes it ask the leader. */
  applied(change: MembershipChange): void {
    if (change.kind === MembershipChangeKind.RemoveNode) {
      if (change.nodeId === this.options.nodeId) void this.confirm();
      else this.removed.add(change.nodeId);
    } else if (change.kind === MembershipChangeKind.AddLearner) {
      this.removed.delete(change.nodeId);
    }
  }

  /** A leader heard Raft traffic from `nodeId`: if it removed that node, it tells it to ask. */
  heardFrom(nodeId: number): void {
    const address = this.options.addresses()[nodeId];
    if (!this.removed.has(nodeId) || address === undefined || this.notifying.has(nodeId)) return;
    this.notifying.add(nodeId);
    sendAdminRequest(address, { op: "removed", nodeId, leaderId: this.options.nodeId, ...clusterField(this.options.clusterId()) }, undefined, this.options.peerTls())
      .catch((error: unknown) => this.options.logger.debug("telling a removed node failed", { nodeId, error }))
      .finally(() => this.notifying.delete(nodeId));
  }

  /** Asks the leader whether this node is still a member (one question at a time); resolves once answered or given up. */
  confirm(): Promise<void> {
    if (this.settled) return Promise.resolve();
    this.asking ??= this.askLeader().finally(() => {
      this.asking = null;
    });
    return this.asking;
  }

  /** Resolves once no question is under way (the node's close aborts one). */
  async idle(): Promise<void> {
    await this.asking;
  }

  private async askLeader(): Promise<void> {
    const { nodeId, signal, logger } = this.options;
    const contacts = Object.entries(this.options.addresses())
      .filter(([id]) => Number(id) !== nodeId)
      .map(([, address]) => address);
    for (let attempt = 0; attempt < MEMBER_CHECK_ATTEMPTS_MAX && contacts.length > 0 && !signal.aborted; attempt++) {
      try {
        const answer = await askLeader(contacts[attempt % contacts.length]!, { op: "member", nodeId, ...clusterField(this.options.clusterId()) }, undefined, undefined, this.options.peerTls());
        // A "no" counts only from a leader that has known this node: one that never did leads another
        // cluster (a member's address taken by a node that bootstrapped afresh after losing its disk),
        // and its "no" removed a healthy member, which stopped serving. An answer without `known`
        // comes from an older version, and is believed as it was.
        if (answer.member === false && answer.known === false) {
          logger.warn("a leader that has never known this node answered that it is not a member: ignored (another cluster at a member's address?)");
        } else if (answer.member === false) {
          this.settled = true;
          this.options.onRemoved(`node ${nodeId} was removed from the cluster; ask another member`);
          return;
        }
        // "Still a member" may come from a leader that has not yet applied the removal this node
        // just applied, and a removed node that is no longer replicated to sends nothing that would
        // bring the leader's notice later: ask again, within the bound.
        logger.debug("the leader still counts this node a member; asking again", { attempt });
      } catch (error) {
        logger.debug("asking the leader whether this node is a member failed", { error });
      }
      await delay(Math.min(2_000, 100 * (attempt + 1)), undefined, { signal }).catch(() => undefined);
    }
  }
}
