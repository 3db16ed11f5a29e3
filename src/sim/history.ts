import { indexOfOffset } from "../cluster/log-storage.ts";
import type { LogRecord } from "../storage/index.ts";
import { sameEntry, readEntry, Violation, type Checker } from "./checker.ts";
import type { SimLog } from "./sim-log.ts";

/**
 * The client-level history checker. Simulated clients produce values (each attempt a value of its
 * own, so a retry after an ambiguous failure is told apart from a duplicate) and consume from any
 * node; the checker verifies that
 *  - an acknowledged value is committed at its acknowledged offset, and no value is committed twice;
 *  - a read on any node returns only committed records, each as committed, in log order;
 *  - at the end (healed), every replica that committed an acknowledged offset holds the value there
 *    on its disk, and the leader has committed every acknowledged value (nothing acknowledged lost).
 */
export class History {
  /** Acknowledged value → offset. */
  private readonly acknowledged = new Map<string, number>();
  /** Committed value → offset, over every committed data record. */
  private readonly committedAt = new Map<string, number>();
  /** Records read before any replica applied them. */
  private readonly unconfirmedReads: Array<{ node: number; record: LogRecord }> = [];
  acknowledgements = 0;
  reads = 0;

  constructor(private readonly checker: Checker) {}

  /** A data record was committed (first seen applied anywhere) at `offset`. */
  onCommitted(value: string, offset: number): void {
    const known = this.committedAt.get(value);
    if (known === undefined) this.committedAt.set(value, offset);
    else if (known !== offset) throw new Violation(`value ${value} committed at offsets ${known} and ${offset}`);
  }

  onAcknowledged(value: string, offset: number): void {
    const entry = this.checker.committedAt(indexOfOffset(offset));
    if (entry === undefined) throw new Violation(`value ${value} acknowledged at ${offset}, which no replica has applied`);
    const stored = Buffer.from(entry.data).toString();
    if (stored !== value) throw new Violation(`value ${value} acknowledged at ${offset}, where ${stored} was committed`);
    this.acknowledged.set(value, offset);
    this.acknowledgements++;
  }

  /** Records a consumer read from `node` starting at `offset`. */
  onRead(node: number, offset: number, records: readonly LogRecord[]): void {
    records.forEach((record, i) => {
      if (record.offset !== offset + i) throw new Violation(`node ${node} read offset ${record.offset} at position ${i} of a read from ${offset}`);
      const index = indexOfOffset(record.offset);
      // A restarted replica serves up to its persisted commit index before it applies again, so a
      // record no replica has applied yet is checked at the end.
      if (this.checker.committedAt(index) === undefined) this.unconfirmedReads.push({ node, record });
      else this.checkRead(node, record);
    });
    this.reads++;
  }

  private checkRead(node: number, record: LogRecord): void {
    const index = indexOfOffset(record.offset);
    const entry = this.checker.committedAt(index);
    if (entry === undefined) throw new Violation(`node ${node} served offset ${record.offset}, which no replica ever applied`);
    if (!sameEntry(entry, { index, term: record.term, type: record.type as typeof entry.type, data: record.value })) {
      throw new Violation(`node ${node} served offset ${record.offset} (term ${record.term}) unlike the committed record (term ${entry.term})`);
    }
  }

  /**
   * The final check: `replicas` maps each running replica to its log and commit end (offset after
   * its last committed record); `leaderCommitEnd` is the leader's.
   */
  checkEnd(replicas: ReadonlyMap<number, { log: SimLog; commitEnd: number }>, leaderCommitEnd: number): void {
    for (const { node, record } of this.unconfirmedReads) this.checkRead(node, record);
    for (const [value, offset] of this.acknowledged) {
      if (offset >= leaderCommitEnd) throw new Violation(`acknowledged value ${value} at ${offset} is lost: the leader commits only up to ${leaderCommitEnd}`);
      const index = indexOfOffset(offset);
      for (const [node, { log, commitEnd }] of replicas) {
        if (offset >= commitEnd || offset < log.lowestOffset) continue;
        const held = readEntry(log, index);
        if (held === undefined) continue;
        if (Buffer.from(held.data).toString() !== value) {
          throw new Violation(`node ${node} committed offset ${offset} but holds ${Buffer.from(held.data).toString()} there, not the acknowledged ${value}`);
        }
      }
    }
  }
}
