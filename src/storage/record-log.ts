// What a Raft replica needs from its data log, as a narrow interface: the native Log (log.ts) is the
// production implementation, and the simulator's disk (src/sim/sim-log.ts) its in-memory twin. The
// contract tests (test/storage-record-log-contract.test.ts) run against both so the two cannot drift.
//
// Offsets: the log holds the records [lowestOffset, nextOffset); it is empty when the two are equal.
// Ownership: buffers passed to append are copied (or written) before it resolves and never kept;
// records returned by reads belong to the caller.
// Errors (from src/errors.ts, matched by class): an offset outside [lowestOffset, nextOffset) is
// OffsetOutOfRangeError; a record whose checksum fails is DataLossError (reads stop before it); a
// disk without room is StorageFullError; any other write or sync failure is StorageIoError, after
// which the log takes no more appends until it is reopened.
import { DataLossError, InvalidArgumentError } from "../errors.ts";
import type { LogRecord } from "./frame.ts";

export interface AppendOptions {
  /** Raft term stored with each record (default 0). */
  readonly term?: number;
  /** Record type stored with each record, a u32 (default 0: user data). */
  readonly type?: number;
  /**
   * Creation time to store instead of the clock's (a Raft follower keeps the leader's). Timestamps
   * never go back: an earlier one is raised to the log's latest.
   */
  readonly timestampMs?: number;
}

export interface ReadLimits {
  /** Most records to return (default: no limit beyond bytesMax). */
  readonly countMax?: number;
  /** Byte budget in frame bytes; at least one record is returned even if it alone is larger. Default 1 MiB. */
  readonly bytesMax?: number;
}

export interface RecordLog {
  /** Offset of the first retained record (equal to nextOffset when the log is empty). */
  readonly lowestOffset: number;
  /** Offset the next appended record gets; the end of what readers see. */
  readonly nextOffset: number;
  /** The creation time the next batch gets at least: the latest given to a stored record (0 if none). */
  readonly latestTimestampMs: number;
  /** The largest record value append takes: a batch holding a larger one is refused whole, RecordTooLargeError. */
  readonly recordBytesMax: number;
  /**
   * Appends records with consecutive offsets from nextOffset; resolves with the first offset once
   * they are synced (they survive a crash). Appends resolve in call order.
   */
  append(values: readonly Uint8Array[], options?: AppendOptions): Promise<number>;
  /** The record at `offset`. */
  read(offset: number | bigint): LogRecord;
  /**
   * Records from `offset` on within the limits (at least one), stopping before the first damaged
   * record; DataLossError only when the record at `offset` itself is damaged.
   */
  readRange(offset: number | bigint, limits?: ReadLimits): LogRecord[];
  /** The term stored with the record at `offset`. */
  termAt(offset: number): number;
  /** Offset of the first record created at or after `ms`, or undefined if there is none. */
  offsetForTime(ms: number): number | undefined;
  /**
   * Removes every record after `offset` (lowestOffset - 1 removes all); durable when it resolves: a
   * crash afterwards never brings the removed records back.
   */
  truncateAfter(offset: number): Promise<void>;
  /** Deletes every record and restarts the log empty at `offset`; durable when it resolves. */
  resetTo(offset: number): Promise<void>;
}

const READ_BYTES_DEFAULT = 1024 * 1024;

/** A range read's limits with their defaults, the same for every RecordLog; InvalidArgumentError if malformed. */
export function checkReadLimits(limits: ReadLimits): { countMax: number; bytesMax: number } {
  const { countMax = Number.MAX_SAFE_INTEGER, bytesMax = READ_BYTES_DEFAULT } = limits;
  if (!Number.isSafeInteger(countMax) || countMax < 1) throw new InvalidArgumentError(`countMax must be a positive integer, got ${countMax}`);
  if (!Number.isSafeInteger(bytesMax) || bytesMax < 0) throw new InvalidArgumentError(`bytesMax must be a non-negative integer, got ${bytesMax}`);
  return { countMax, bytesMax };
}

/** What `read` returns, or undefined where it meets a damaged record (DataLossError); other errors pass. */
export function unlessDamaged<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (error instanceof DataLossError) return undefined;
    throw error;
  }
}
