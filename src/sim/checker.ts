import { offsetOfIndex } from "../cluster/log-storage.ts";
import { describeEntry } from "../raft/describe.ts";
import type { Entry } from "../raft/types.ts";
import type { RecordLog } from "../storage/index.ts";
import { unlessDamaged } from "../storage/record-log.ts";

/** A broken cluster-wide invariant: what the simulator exists to find. */
export class Violation extends Error {
  override readonly name = "Violation";
}

/**
 * Global safety checkers for the replicas, fed by the simulator:
 *  - election safety: at most one leader per term (§5.2);
 *  - state machine safety: every replica applies the same entry at each index (§5.4.3), each
 *    replica in index order;
 *  - leader completeness: a new leader's log holds every entry committed before its term (§5.4),
 *    as read back from its disk.
 */
export class Checker {
  private readonly leaders = new Map<number, number>();
  /** The entry applied at each index (by any replica). */
  private readonly committed: (Entry | undefined)[] = [];
  /**
   * For each committed index, the highest leader term seen when it was first applied: the entry was
   * committed in that term or an earlier one, so every leader of a later term must hold it.
   */
  private readonly committedByTerm: number[] = [];
  private highestLeaderTerm = 0;
  highestCommitted = 0;

  /** Election safety. */
  onLeader(term: number, id: number): void {
    const known = this.leaders.get(term);
    this.highestLeaderTerm = Math.max(this.highestLeaderTerm, term);
    if (known === undefined) this.leaders.set(term, id);
    else if (known !== id) throw new Violation(`two leaders in term ${term}: ${known} and ${id}`);
  }

  /** State machine safety: `entries` are what replica `node` applies next, after `appliedIndex`. */
  onApply(node: number, appliedIndex: number, entries: readonly Entry[]): void {
    let expected = appliedIndex + 1;
    for (const entry of entries) {
      if (entry.index !== expected) throw new Violation(`node ${node} applied ${entry.index} after ${expected - 1}`);
      expected++;
      const known = this.committed[entry.index];
      if (known === undefined) {
        this.committed[entry.index] = entry;
        this.committedByTerm[entry.index] = this.highestLeaderTerm;
        this.highestCommitted = Math.max(this.highestCommitted, entry.index);
      } else if (!sameEntry(known, entry)) {
        throw new Violation(`node ${node} applied ${describeEntry(entry)} where another applied ${describeEntry(known)}`);
      }
    }
  }

  /**
   * Leader completeness (§5.4): the log of a leader of term T holds every entry committed in a term
   * before T. (A node may win an election late, its votes delayed by a pause, after entries were
   * committed in later terms: those it need not hold.)
   */
  onNewLeader(node: number, term: number, log: RecordLog): void {
    let high = this.highestCommitted;
    while (high > 0 && (this.committed[high] === undefined || this.committedByTerm[high]! >= term)) high--;
    if (log.nextOffset < high) throw new Violation(`leader ${node} of term ${term} ends at ${log.nextOffset}, but ${high} was committed before term ${term}`);
    for (let index = Math.max(log.lowestOffset + 1, 1); index <= high; index++) {
      const known = this.committed[index];
      if (known === undefined || this.committedByTerm[index]! >= term) continue;
      const held = readEntry(log, index);
      if (held !== undefined && !sameEntry(known, held)) {
        throw new Violation(`leader ${node} of term ${term} holds ${describeEntry(held)}, but ${describeEntry(known)} was committed`);
      }
    }
  }

  /** The entry applied at `index` by some replica, if any. */
  committedAt(index: number): Entry | undefined {
    return this.committed[index];
  }
}

/** The entry at `index` as `log` stores it, or undefined when it is damaged (a repair's business). */
export function readEntry(log: RecordLog, index: number): Entry | undefined {
  const record = unlessDamaged(() => log.read(offsetOfIndex(index)));
  return record === undefined ? undefined : { index, term: record.term, type: record.type as Entry["type"], data: record.value };
}

export function sameEntry(a: Pick<Entry, "index" | "term" | "type" | "data">, b: Pick<Entry, "index" | "term" | "type" | "data">): boolean {
  if (a === b) return true;
  if (a.index !== b.index || a.term !== b.term || a.type !== b.type) return false;
  return Buffer.from(a.data.buffer, a.data.byteOffset, a.data.length).equals(b.data);
}
