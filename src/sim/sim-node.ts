import { assert } from "../raft/assert.ts";
import { defaultRaftLimits, type RaftConfig } from "../raft/config.ts";
import { MemoryStorage } from "../raft/memory-storage.ts";
import type { RandomSource } from "../raft/random.ts";
import { RawNode } from "../raft/raw-node.ts";
import type { Ready } from "../raft/ready.ts";
import type { HardState, SnapshotPoint } from "../raft/types.ts";

/** Raft settings the simulator and the scenario tests share. */
export const simRaftLimits = {
  ...defaultRaftLimits,
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  messageBytesMax: 4096,
  inflightMessagesMax: 8,
  inflightBytesMax: 16384,
  applyBytesMax: 8192,
  proposalEntriesMax: 16,
  uncommittedEntriesMax: 64,
};

/**
 * One simulated server: a disk (a `MemoryStorage` whose hard state is split into synced and not yet
 * synced parts) and, while it is up, a `RawNode` with at most one Ready being written.
 * A crash throws away the node and the write in flight; a restart rebuilds the node from the disk.
 */
export class SimNode {
  readonly id: number;
  readonly storage: MemoryStorage;
  raw: RawNode | null = null;
  /** The Ready whose writes are in flight to the disk. */
  pending: Ready | null = null;
  /** The last hard state written without fsync: lost by a crash. */
  private unsyncedHardState: HardState | null = null;
  /** The application's state: the last applied index (volatile, rebuilt by re-applying on restart). */
  appliedIndex = 0;
  /** The commit index up to which the checkers have seen this node's committed entries. */
  checkedCommit = 0;
  /** The node was removed from the cluster and is stopped for good. */
  removed = false;

  constructor(id: number, start: SnapshotPoint) {
    assert(id > 0, `node id must be positive, got ${id}`);
    this.id = id;
    this.storage = new MemoryStorage(start);
  }

  isUp(): boolean {
    return this.raw !== null;
  }

  start(random: RandomSource, limits: Partial<RaftConfig> = {}): void {
    assert(this.raw === null, `node ${this.id} is already up`);
    assert(!this.removed, `node ${this.id} was removed`);
    this.raw = new RawNode({ ...simRaftLimits, ...limits, id: this.id, storage: this.storage, random });
    this.appliedIndex = this.storage.snapshot().index;
    this.checkedCommit = this.storage.snapshot().index;
  }

  /** Stops the node; whatever was not synced (the write in flight, an unsynced commit index) is lost. */
  crash(): void {
    this.raw = null;
    this.pending = null;
    this.unsyncedHardState = null;
  }

  /**
   * Makes the writes of `ready` durable (snapshot point, entries, hard state), as the driver must before
   * sending `ready.messagesAfterPersist`. Returns the entries written, for the checkers.
   */
  persist(ready: Ready): void {
    assert(this.pending === ready, "persisting a Ready that is not in flight");
    if (ready.snapshot !== null) {
      this.storage.installSnapshot(ready.snapshot);
      this.appliedIndex = ready.snapshot.index;
    }
    if (ready.entries.length > 0) this.storage.append(ready.entries);
    if (ready.hardState !== null) this.unsyncedHardState = ready.hardState;
    if (ready.mustSync && this.unsyncedHardState !== null) {
      this.storage.setHardState(this.unsyncedHardState);
      this.unsyncedHardState = null;
    }
    if (ready.mustSync) assert(ready.hardState === null || this.storage.hardState() === ready.hardState, "sync lost the hard state");
  }
}
