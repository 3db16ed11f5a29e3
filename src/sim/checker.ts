import { assert } from "../raft/assert.ts";
import { describeEntry } from "../raft/describe.ts";
import type { RaftLog } from "../raft/raft-log.ts";
import type { Entry } from "../raft/types.ts";

/** A broken cluster-wide invariant: what the simulator exists to find. */
export class Violation extends Error {
  override readonly name = "Violation";
}

interface Fingerprint {
  readonly prevTerm: number;
  readonly entry: Entry;
}

/**
 * Global safety checkers, fed by the simulator after every event:
 *  - election safety: at most one leader per term (§5.2);
 *  - log matching: entries with the same index and term have the same content and predecessor (§5.3);
 *  - committed entries never change: every node that knows an index committed holds the same entry;
 *  - leader completeness: a new leader holds every entry any node knew committed (§5.4);
 *  - state machine safety: every node applies the same entry at each index (§5.4.3).
 */
export class Checker {
  private readonly leaders = new Map<number, number>();
  /** For each index, the (term -> fingerprint) of every entry persisted anywhere. */
  private readonly persisted: Map<number, Fingerprint>[] = [];
  /** The entry applied at each index (by any node); index 0 unused. */
  private readonly applied: (Entry | undefined)[] = [];
  /** The entry known committed at each index (by any node's commit index). */
  private readonly committed: (Entry | undefined)[] = [];
  highestCommitted = 0;

  /** Election safety. */
  onLeader(term: number, id: number): void {
    const known = this.leaders.get(term);
    if (known === undefined) this.leaders.set(term, id);
    else if (known !== id) throw new Violation(`two leaders in term ${term}: ${known} and ${id}`);
  }

  /** Log matching, checked on every entry a node makes durable; `prevTerm` is the term before entries[0]. */
  onPersist(node: number, prevTerm: number, entries: readonly Entry[]): void {
    let previous = prevTerm;
    for (const entry of entries) {
      let byTerm = this.persisted[entry.index];
      if (byTerm === undefined) {
        byTerm = new Map();
        this.persisted[entry.index] = byTerm;
      }
      const known = byTerm.get(entry.term);
      if (known === undefined) {
        byTerm.set(entry.term, { prevTerm: previous, entry });
      } else if (known.prevTerm !== previous || !sameEntry(known.entry, entry)) {
        throw new Violation(
          `log matching: node ${node} persisted ${describeEntry(entry)} after term ${previous}, ` +
            `elsewhere ${describeEntry(known.entry)} after term ${known.prevTerm}`,
        );
      }
      previous = entry.term;
    }
  }

  /** State machine safety: node `node` applies `entry` as the next entry of its sequence. */
  onApply(node: number, entry: Entry): void {
    const known = this.applied[entry.index];
    if (known === undefined) {
      this.applied[entry.index] = entry;
    } else if (!sameEntry(known, entry)) {
      throw new Violation(`node ${node} applied ${describeEntry(entry)} where another applied ${describeEntry(known)}`);
    }
    this.recordCommitted(node, entry);
  }

  /**
   * Records the entries a node's log holds up to its commit index: once any node knows an index is
   * committed, that entry is final. Entries compacted away are skipped (they were recorded before).
   */
  onCommitIndex(node: number, log: RaftLog, fromIndex: number): void {
    const low = Math.max(fromIndex, log.firstIndex());
    const high = Math.min(log.committed, log.lastIndex());
    if (low > high) return;
    for (const entry of log.slice(low, high + 1, Number.MAX_SAFE_INTEGER)) this.recordCommitted(node, entry);
  }

  private recordCommitted(node: number, entry: Entry): void {
    const known = this.committed[entry.index];
    if (known === undefined) {
      this.committed[entry.index] = entry;
      if (entry.index > this.highestCommitted) this.highestCommitted = entry.index;
    } else if (!sameEntry(known, entry)) {
      throw new Violation(`node ${node} committed ${describeEntry(entry)} where ${describeEntry(known)} was committed`);
    }
  }

  /** Leader completeness: the log of a new leader holds every committed entry (§5.4). */
  onNewLeader(node: number, term: number, log: RaftLog): void {
    const high = this.highestCommitted;
    if (high === 0) return;
    if (log.lastIndex() < high) {
      throw new Violation(`leader ${node} of term ${term} ends at ${log.lastIndex()}, but ${high} was committed`);
    }
    const low = Math.max(log.firstIndex(), 1);
    if (low > high) return;
    const entries = log.slice(low, high + 1, Number.MAX_SAFE_INTEGER);
    assert(entries.length === high - low + 1, "slice came back short");
    for (const entry of entries) {
      const known = this.committed[entry.index];
      if (known !== undefined && !sameEntry(known, entry)) {
        throw new Violation(`leader ${node} of term ${term} holds ${describeEntry(entry)}, but ${describeEntry(known)} was committed`);
      }
    }
  }

  /** The entry applied at `index` by some node, if any. */
  appliedAt(index: number): Entry | undefined {
    return this.applied[index];
  }
}

function sameEntry(a: Entry, b: Entry): boolean {
  if (a === b) return true;
  if (a.index !== b.index || a.term !== b.term || a.type !== b.type) return false;
  if (a.data.length !== b.data.length) return false;
  for (let i = 0; i < a.data.length; i++) if (a.data[i] !== b.data[i]) return false;
  return true;
}
