import { assert } from "../raft/assert.ts";
import { describeEntries, describeHardState, describeMembership, describeMessage, describeReady } from "../raft/describe.ts";
import { MembershipChangeKind, type MembershipChange } from "../raft/membership.ts";
import type { Message } from "../raft/message.ts";
import type { ProposeResult } from "../raft/propose-result.ts";
import { SeededRandom, type RandomSource } from "../raft/random.ts";
import { Role, type HardState, type SnapshotPoint } from "../raft/types.ts";
import { MemoryStorage } from "../raft/memory-storage.ts";
import { RawNode } from "../raft/raw-node.ts";
import type { Ready } from "../raft/ready.ts";
import { defaultRaftLimits, type RaftConfig } from "../raft/config.ts";

/**
 * One server of a scenario: the core alone over a `MemoryStorage` disk (scenarios test the core's
 * rules; the simulator tests durability on the production driver). A hard state written without
 * mustSync is lost by a restart, which rebuilds the core from the disk.
 */
class CoreNode {
  readonly storage: MemoryStorage;
  raw: RawNode | null = null;
  private unsyncedHardState: HardState | null = null;

  constructor(
    readonly id: number,
    start: SnapshotPoint,
    private readonly limits: Partial<RaftConfig>,
  ) {
    this.storage = new MemoryStorage(start);
  }

  start(random: RandomSource): void {
    assert(this.raw === null, `node ${this.id} is already up`);
    this.raw = new RawNode({ ...defaultRaftLimits, ...this.limits, id: this.id, storage: this.storage, random });
  }

  stop(): void {
    this.raw = null;
    this.unsyncedHardState = null;
  }

  /** Step 2 of the Ready contract: start point, entries, then the hard state, synced when mustSync. */
  persist(ready: Ready): void {
    if (ready.snapshot !== null) this.storage.installSnapshot(ready.snapshot);
    if (ready.entries.length > 0) this.storage.append(ready.entries);
    if (ready.hardState !== null) this.unsyncedHardState = ready.hardState;
    if (ready.mustSync && this.unsyncedHardState !== null) {
      this.storage.setHardState(this.unsyncedHardState);
      this.unsyncedHardState = null;
    }
  }
}

/**
 * A hand-driven cluster for scenario tests: nothing happens unless a command says so. Messages wait
 * in a mailbox until `deliver`; Readies are handled by `processReady`; `stabilize` does both until
 * the cluster is quiet. Every command returns the lines it prints, which golden files record.
 */
export class ScenarioEnv {
  readonly nodes = new Map<number, CoreNode>();
  readonly mailbox: Message[] = [];
  private readonly random: SeededRandom;
  private readonly blocked = new Set<string>();

  /** `limits` default to what the golden scenarios were written with. */
  constructor(
    seed = 1,
    private readonly limits: Partial<RaftConfig> = { heartbeatIntervalTicks: 1, electionTimeoutTicks: 10 },
  ) {
    this.random = new SeededRandom(seed);
  }

  node(id: number): RawNode {
    const raw = this.nodes.get(id)?.raw;
    assert(raw !== undefined && raw !== null, `node ${id} is not running`);
    return raw;
  }

  /** Adds servers `ids` that start from `point` (the bootstrap point, or an empty log for joiners). */
  addNodes(ids: readonly number[], point: SnapshotPoint): string[] {
    for (const id of ids) {
      const node = new CoreNode(id, point, this.limits);
      node.start(this.random);
      this.nodes.set(id, node);
    }
    return ids.map((id) => `node ${id}: ${describeMembership(point.membership)} start=${point.term}/${point.index}`);
  }

  campaign(id: number): string[] {
    this.node(id).campaign();
    return [];
  }

  tick(id: number, count: number): string[] {
    for (let i = 0; i < count; i++) this.node(id).tick();
    return [];
  }

  propose(id: number, values: readonly string[]): string[] {
    return [describeResult(this.node(id).propose(values.map((v) => new TextEncoder().encode(v))))];
  }

  proposeMembership(id: number, change: MembershipChange): string[] {
    return [describeResult(this.node(id).proposeMembershipChange(change))];
  }

  transfer(id: number, to: number): string[] {
    return [describeResult(this.node(id).transferLeadership(to))];
  }

  /** Carries out one Ready of node `id`: persist, queue its messages, apply, advance. */
  processReady(id: number): string[] {
    const ready = this.carryOut(id);
    return ready === undefined ? [] : [`> ${id} handling Ready`, ...describeReady(ready, "  ")];
  }

  /** The Ready of node `id` it carried out, if the node had one. */
  private carryOut(id: number): Ready | undefined {
    const node = this.nodes.get(id);
    const raw = node?.raw;
    if (node === undefined || raw === null || raw === undefined || !raw.hasReady()) return undefined;
    const ready = raw.ready();
    node.persist(ready);
    this.mailbox.push(...ready.messages, ...ready.messagesAfterPersist);
    this.appliedEntries += ready.committedEntries.length;
    raw.advance(ready);
    return ready;
  }

  /** Entries applied on all nodes so far (what a throughput measurement counts). */
  appliedEntries = 0;

  /**
   * As `stabilize`, without describing anything (for measuring the core): carries out Readies and
   * delivers every message until no node has anything to do.
   */
  settle(): void {
    for (let busy = true; busy; ) {
      busy = false;
      for (const id of this.nodes.keys()) if (this.carryOut(id) !== undefined) busy = true;
      const batch = this.mailbox.splice(0);
      if (batch.length > 0) busy = true;
      for (const m of batch) if (!this.blocked.has(`${m.from}>${m.to}`)) this.nodes.get(m.to)?.raw?.step(m);
    }
  }

  /** Delivers every waiting message addressed to `id`, dropping those from `drop` or across a partition. */
  deliver(id: number, drop: readonly number[] = []): string[] {
    const lines: string[] = [];
    const mine = this.mailbox.filter((m) => m.to === id);
    const rest = this.mailbox.filter((m) => m.to !== id);
    this.mailbox.length = 0;
    this.mailbox.push(...rest);
    for (const m of mine) {
      const raw = this.nodes.get(id)?.raw;
      if (drop.includes(m.from) || this.blocked.has(`${m.from}>${m.to}`) || raw === null || raw === undefined) {
        lines.push(`  dropped: ${describeMessage(m)}`);
        continue;
      }
      lines.push(`  ${describeMessage(m)}`);
      raw.step(m);
    }
    return lines.length > 0 ? [`> ${id} receiving messages`, ...lines] : [];
  }

  /** Alternates Ready handling and delivery until no node has anything to do. */
  stabilize(): string[] {
    const lines: string[] = [];
    for (let round = 0; round < 1000; round++) {
      let progressed = false;
      for (const id of this.nodes.keys()) {
        const out = this.processReady(id);
        if (out.length > 0) progressed = true;
        lines.push(...out);
      }
      for (const id of this.nodes.keys()) {
        const out = this.deliver(id);
        if (out.length > 0) progressed = true;
        lines.push(...out);
      }
      if (!progressed) return lines;
    }
    throw new Error("stabilize did not converge in 1000 rounds");
  }

  /** Blocks all messages between the groups (in both directions). */
  partition(groups: readonly (readonly number[])[]): string[] {
    for (const a of groups) for (const b of groups) {
      if (a === b) continue;
      for (const x of a) for (const y of b) this.blocked.add(`${x}>${y}`);
    }
    return [];
  }

  heal(): string[] {
    this.blocked.clear();
    return [];
  }

  /** Crashes node `id` (losing any unsynced state) and starts it again from its disk. */
  restart(id: number): string[] {
    const node = this.nodes.get(id);
    assert(node !== undefined, `no node ${id}`);
    node.stop();
    node.start(this.random);
    return [];
  }

  compact(id: number, index: number): string[] {
    const node = this.nodes.get(id);
    assert(node !== undefined && node.raw !== null, `node ${id} is not running`);
    node.storage.compact(index, node.raw.raft.tracker.membership);
    return [];
  }

  status(id: number): string[] {
    const s = this.node(id).status();
    const lines = [
      `${s.id}: ${s.role} term=${s.term} vote=${s.vote} lead=${s.lead} commit=${s.commit} applied=${s.applied} ` +
        `log=[${s.firstIndex},${s.lastIndex}] ${describeMembership(s.membership)}`,
    ];
    const raft = this.node(id).raft;
    if (raft.role === Role.Leader) {
      for (const [peer, p] of raft.tracker.progress) {
        lines.push(`  ${peer}: ${p.state} match=${p.match} next=${p.next}${p.state === "snapshot" ? ` pending=${p.pendingSnapshot}` : ""}`);
      }
    }
    return lines;
  }

  log(id: number): string[] {
    const node = this.nodes.get(id);
    assert(node !== undefined, `no node ${id}`);
    const storage = node.storage;
    const entries = storage.entries(storage.firstIndex(), storage.lastIndex() + 1, Number.MAX_SAFE_INTEGER);
    return [
      `${id}: start=${storage.snapshot().term}/${storage.snapshot().index} ${describeHardState(storage.hardState())}`,
      `  ${describeEntries(entries)}`,
    ];
  }
}

function describeResult(result: ProposeResult): string {
  if (result.ok) return `ok term=${result.term} index=${result.firstIndex}..${result.lastIndex}`;
  return `rejected ${result.reason}: ${result.detail}`;
}

/** Parses a membership change as written in scripts: `add-learner 4`, `promote 4`, `remove 2`. */
export function parseMembershipChange(kind: string, nodeId: number): MembershipChange {
  const kinds: Record<string, MembershipChangeKind> = {
    "add-learner": MembershipChangeKind.AddLearner,
    promote: MembershipChangeKind.PromoteLearner,
    remove: MembershipChangeKind.RemoveNode,
  };
  const parsed = kinds[kind];
  if (parsed === undefined) throw new Error(`unknown membership change ${kind}`);
  return { kind: parsed, nodeId };
}
