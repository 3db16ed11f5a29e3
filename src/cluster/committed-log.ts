// What consumers on a replica see: the data log cut at the commit index. Records past it are
// durable here but may still be replaced (Raft conflict truncation), so they are never served.
// Raft's own entries (type 1: a new leader's no-op, type 2: a membership change) are records too:
// consumers see every offset, and a record's `type` tells data (0) from Raft's entries.
import { InvalidArgumentError, OffsetOutOfRangeError } from "../errors.ts";
import type { LogRecord, ReadLimits, RecordLog } from "../storage/index.ts";
import type { OffsetWaiters } from "../storage/offset-waiters.ts";

export class CommittedLog {
  constructor(
    private readonly log: RecordLog,
    private readonly commitEnd: () => number,
    private readonly waiters: OffsetWaiters,
  ) {}

  get lowestOffset(): number {
    return this.log.lowestOffset;
  }

  /** The offset after the last committed record. */
  get nextOffset(): number {
    return this.commitEnd();
  }

  get highestOffset(): number | undefined {
    const end = this.commitEnd();
    return end > this.log.lowestOffset ? end - 1 : undefined;
  }

  read(offset: number | bigint): LogRecord {
    this.checkCommitted(offset);
    return this.log.read(offset);
  }

  readRange(offset: number | bigint, limits: ReadLimits = {}): LogRecord[] {
    this.checkCommitted(offset);
    const at = Number(offset);
    const countMax = Math.min(limits.countMax ?? Number.MAX_SAFE_INTEGER, this.commitEnd() - at);
    return this.log.readRange(at, { ...limits, countMax });
  }

  offsetForTime(ms: number): number | undefined {
    const offset = this.log.offsetForTime(ms);
    return offset !== undefined && offset < this.commitEnd() ? offset : undefined;
  }

  /** Resolves once `offset` is committed; rejects below the lowest offset or when the replica stops. */
  waitFor(offset: number, signal?: AbortSignal): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) return Promise.reject(new InvalidArgumentError(`bad offset ${offset}`));
    if (offset < this.log.lowestOffset) return Promise.reject(new OffsetOutOfRangeError(BigInt(offset)));
    if (offset < this.commitEnd()) return Promise.resolve();
    return this.waiters.wait(offset, signal);
  }

  private checkCommitted(offset: number | bigint): void {
    if (typeof offset === "number" && !Number.isInteger(offset)) throw new InvalidArgumentError(`offset must be an integer, got ${offset}`);
    if (typeof offset === "bigint" ? offset >= BigInt(this.commitEnd()) : offset >= this.commitEnd()) {
      throw new OffsetOutOfRangeError(BigInt(offset));
    }
  }
}
