import { assert } from "../raft/assert.ts";
import type { Message } from "../raft/message.ts";
import { SeededRandom } from "../raft/random.ts";
import type { RaftConfig } from "../raft/config.ts";
import { Role } from "../raft/types.ts";
import { SimNode } from "./sim-node.ts";

/**
 * The simplest driver: a cluster with a zero-latency network and a zero-latency disk, pumped until
 * quiet. Used to measure the core alone (no I/O, no fault injection, no checkers).
 */
export class InstantCluster {
  readonly nodes: SimNode[] = [];
  private mailbox: Message[] = [];
  private readonly byId = new Map<number, SimNode>();
  appliedEntries = 0;

  constructor(size: number, limits: Partial<RaftConfig>, seed = 1) {
    const random = new SeededRandom(seed);
    const voters = Array.from({ length: size }, (_, i) => i + 1);
    for (const id of voters) {
      const node = new SimNode(id, { index: 1, term: 1, membership: { voters, learners: [] } });
      node.start(random, limits);
      this.nodes.push(node);
      this.byId.set(id, node);
    }
  }

  /** Elects node 1 and waits until it has committed its no-op. */
  electFirst(): SimNode {
    const leader = this.nodes[0] as SimNode;
    leader.raw?.campaign();
    this.pump();
    assert(leader.raw?.raft.role === Role.Leader, "node 1 did not become leader");
    return leader;
  }

  /** Handles Readies and delivers messages until no node has anything left to do. */
  pump(): void {
    for (;;) {
      let busy = false;
      for (const node of this.nodes) {
        const raw = node.raw;
        if (raw === null || !raw.hasReady()) continue;
        busy = true;
        const ready = raw.ready();
        node.pending = ready;
        node.persist(ready);
        for (const m of ready.messages) this.mailbox.push(m);
        for (const m of ready.messagesAfterPersist) this.mailbox.push(m);
        const applied = ready.committedEntries.length;
        if (applied > 0) node.appliedIndex = (ready.committedEntries[applied - 1] as { index: number }).index;
        this.appliedEntries += applied;
        raw.advance(ready);
        node.pending = null;
      }
      if (this.mailbox.length > 0) {
        busy = true;
        const batch = this.mailbox;
        this.mailbox = [];
        for (const m of batch) this.byId.get(m.to)?.raw?.step(m);
      }
      if (!busy) return;
    }
  }

  /** Drops applied entries on every node so that memory stays bounded in long runs. */
  compactAll(): void {
    for (const node of this.nodes) {
      const raft = node.raw?.raft;
      if (raft === undefined || node.appliedIndex <= node.storage.firstIndex() - 1) continue;
      node.storage.compact(node.appliedIndex, raft.tracker.membership);
    }
  }
}
