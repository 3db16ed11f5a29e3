// The native log's in-memory twin (the RecordLog contract, src/storage/record-log.ts) over a
// simulated disk (sim-disk.ts), for the simulator. Every operation completes after a random latency,
// in call order; appends resolve once synced, truncations and resets once their directory is synced.
// It fails as the native log does: a failed sync (StorageIoError) fails the log until it is reopened;
// a full disk refuses the batch (StorageFullError), and every append after it until the disk has
// room again and the appends taken before it are done (diskFull, writable; unlike the native log,
// which fails those too, they complete); a record over recordBytesMax is refused
// (RecordTooLargeError); a record whose checksum fails reads as DataLossError, and range reads stop
// before it. Opening it after a crash runs the native log's recovery: the records written since the
// last sync are verified and the log is cut at the first torn one.
import { DataLossError, InvalidArgumentError, OffsetOutOfRangeError, StorageFullError, StorageIoError } from "../errors.ts";
import { assert } from "../raft/assert.ts";
import type { SeededRandom } from "../raft/random.ts";
import type { AppendOptions, LogRecord, ReadLimits, RecordLog } from "../storage/index.ts";
// Storage's modules free of the native addon (frame layout, limits, checks): the simulator never loads it.
import { checkRecordBytes } from "../storage/append-batch.ts";
import { defaultLogConfig } from "../storage/config.ts";
import { FULL_HEADER_BYTES } from "../storage/frame.ts";
import { largestValueBytes } from "../storage/gathered-values.ts";
import { checkReadLimits } from "../storage/record-log.ts";
import { checksumHolds, recordChecksum, type SimDisk, type StoredRecord } from "./sim-disk.ts";

/** What a simulated log runs in: one process's share of the simulator's time and randomness. */
export interface DiskEnvironment {
  /** Runs `run` after `ms` simulated milliseconds, unless the process has crashed by then. */
  schedule(ms: number, run: () => void): void;
  readonly random: SeededRandom;
  /** The simulator's time, which orders the disk's completions. */
  simulatedMs(): number;
  /** This node's clock: the creation time of records appended without one. */
  now(): number;
}

/** How a simulated disk misbehaves. */
export interface DiskFaults {
  /** Each operation takes a uniform draw in [0, latencyMaxMs] beyond the one before it. */
  readonly latencyMaxMs: number;
  /** Chance that a sync fails (the log then fails until it is reopened). */
  readonly syncFailureRate: number;
}

/**
 * Delays, from now, at which one process's disk operations complete: each takes a uniform draw in
 * [0, latencyMaxMs] beyond the one before it, so they complete in call order.
 */
export function completionsInCallOrder(environment: DiskEnvironment, latencyMaxMs: number): () => number {
  let busyUntil = 0;
  return () => {
    const now = environment.simulatedMs();
    const latencyMs = latencyMaxMs > 0 ? environment.random.intBelow(latencyMaxMs + 1) : 0;
    busyUntil = Math.max(busyUntil, now) + latencyMs;
    return busyUntil - now;
  };
}

export class SimLog implements RecordLog {
  /** The native log's default: the simulated replica refuses the records a node with default limits refuses. */
  readonly recordBytesMax = defaultLogConfig.recordBytesMax;
  private visibleEnd: number;
  private reservedEnd: number;
  private lastTimestampMs: number;
  private failure: StorageIoError | null = null;
  /** Set when an append found the disk full: appends are refused until the disk has room and the appends taken before it are done. */
  private filled: StorageFullError | null = null;
  /** Delay until the next operation completes, after every one before it. */
  private readonly nextCompletionMs: () => number;
  private readonly generation: number;

  private constructor(
    private readonly disk: SimDisk,
    private readonly environment: DiskEnvironment,
    private readonly faults: DiskFaults,
  ) {
    this.generation = disk.generation;
    this.nextCompletionMs = completionsInCallOrder(environment, faults.latencyMaxMs);
    this.visibleEnd = disk.start + disk.records().length;
    this.reservedEnd = this.visibleEnd;
    this.lastTimestampMs = this.storedTimestamp();
  }

  /**
   * Opens the log on `disk` as a process starting after a crash finds it: records written since the
   * last sync are verified and the log is cut before the first that fails its checksum.
   */
  static open(disk: SimDisk, environment: DiskEnvironment, faults: DiskFaults): SimLog {
    const records = disk.records();
    for (let offset = disk.syncedEnd; offset < disk.start + records.length; offset++) {
      if (!checksumHolds(records[offset - disk.start]!)) {
        disk.recover(offset);
        break;
      }
    }
    disk.recover(disk.start + disk.records().length);
    return new SimLog(disk, environment, faults);
  }

  get lowestOffset(): number {
    return this.disk.start;
  }

  /** Whether appends fail because the disk filled up: until it has room again and the appends taken before are done (the native log's probe for free space). */
  get diskFull(): boolean {
    return this.failure === null && this.filled !== null && (this.disk.full || this.reservedEnd !== this.visibleEnd);
  }

  /** Whether the log takes appends. */
  get writable(): boolean {
    return this.failure === null && !this.diskFull;
  }

  get nextOffset(): number {
    return this.visibleEnd;
  }

  get latestTimestampMs(): number {
    return this.lastTimestampMs;
  }

  append(values: readonly Uint8Array[], options: AppendOptions = {}): Promise<number> {
    if (!Array.isArray(values) || values.length === 0) return Promise.reject(new InvalidArgumentError("append needs a non-empty array of Uint8Array values"));
    try {
      checkRecordBytes(largestValueBytes(values), this.recordBytesMax);
    } catch (error) {
      return Promise.reject(error);
    }
    if (this.failure !== null) return Promise.reject(this.failed());
    const { term = 0, type = 0 } = options;
    if (this.diskFull) return Promise.reject(new StorageFullError("the simulated disk was full: appends resume once it has room", 28, { cause: this.filled }));
    this.filled = null;
    if (this.disk.full) {
      this.filled = new StorageFullError("the simulated disk is full", 28);
      return Promise.reject(this.filled);
    }
    this.lastTimestampMs = Math.max(this.lastTimestampMs, Math.floor(options.timestampMs ?? this.environment.now()), 1);
    const timestampMs = this.lastTimestampMs;
    const firstOffset = this.reservedEnd;
    for (const value of values) {
      const copy = Buffer.from(value);
      const record: StoredRecord = { term, type, timestampMs, value: copy, checksum: recordChecksum(term, type, timestampMs, copy) };
      this.disk.write(this.generation, this.reservedEnd++, record);
    }
    const end = this.reservedEnd;
    return this.complete(() => {
      if (this.failure !== null) throw this.failed();
      if (this.environment.random.chance(this.faults.syncFailureRate)) {
        this.failure = new StorageIoError("the simulated disk failed a sync", 5);
        throw this.failed();
      }
      this.disk.sync(this.generation);
      assert(end >= this.visibleEnd, "appends complete in offset order");
      this.visibleEnd = end;
      return firstOffset;
    });
  }

  read(offset: number | bigint): LogRecord {
    const at = this.checkReadable(offset);
    return this.recordAt(at);
  }

  readRange(offset: number | bigint, limits: ReadLimits = {}): LogRecord[] {
    let at = this.checkReadable(offset);
    const { countMax, bytesMax } = checkReadLimits(limits);
    const records = [this.recordAt(at++)];
    let bytes = FULL_HEADER_BYTES + records[0]!.value.length;
    while (at < this.visibleEnd && records.length < countMax) {
      const stored = this.stored(at);
      bytes += FULL_HEADER_BYTES + stored.value.length;
      if (bytes > bytesMax || !checksumHolds(stored)) break;
      records.push(this.recordAt(at++));
    }
    return records;
  }

  termAt(offset: number): number {
    return this.stored(this.checkReadable(offset)).term;
  }

  offsetForTime(ms: number): number | undefined {
    if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidArgumentError(`time must be a non-negative integer of ms, got ${ms}`);
    for (let at = this.lowestOffset; at < this.visibleEnd; at++) if (this.stored(at).timestampMs >= ms) return at;
    return undefined;
  }

  truncateAfter(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < this.lowestOffset - 1) return Promise.reject(new OffsetOutOfRangeError(BigInt(offset)));
    if (this.failure !== null) return Promise.reject(this.failed());
    return this.complete(() => {
      const end = offset + 1;
      if (end >= this.visibleEnd) return;
      this.visibleEnd = end;
      this.reservedEnd = end;
      this.disk.cut(this.generation, end);
      this.lastTimestampMs = this.storedTimestamp();
    });
  }

  resetTo(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) return Promise.reject(new InvalidArgumentError(`offset must be a non-negative integer, got ${offset}`));
    if (this.failure !== null) return Promise.reject(this.failed());
    return this.complete(() => {
      this.disk.reset(this.generation, offset);
      this.visibleEnd = offset;
      this.reservedEnd = offset;
      this.lastTimestampMs = 0;
    });
  }

  /** Runs `finish` once this operation's latency has passed after every operation before it. */
  private complete<T>(finish: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.environment.schedule(this.nextCompletionMs(), () => {
        try {
          resolve(finish());
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  private failed(): StorageIoError {
    return new StorageIoError("the log failed to write or sync and must be reopened", 5, { cause: this.failure });
  }

  private checkReadable(offset: number | bigint): number {
    if (typeof offset === "number" && !Number.isInteger(offset)) throw new InvalidArgumentError(`offset must be an integer, got ${offset}`);
    const asBig = BigInt(offset);
    if (asBig < BigInt(this.lowestOffset) || asBig >= BigInt(this.visibleEnd)) throw new OffsetOutOfRangeError(asBig);
    return Number(asBig);
  }

  private stored(offset: number): StoredRecord {
    const record = this.disk.records()[offset - this.disk.start];
    assert(record !== undefined, `visible offset ${offset} has no stored record`);
    return record;
  }

  /** The record at a readable offset, verified against its checksum. */
  private recordAt(offset: number): LogRecord {
    const stored = this.stored(offset);
    if (!checksumHolds(stored)) throw new DataLossError(`record ${offset} failed its checksum`);
    return { offset, term: stored.term, timestampMs: stored.timestampMs, type: stored.type, value: Buffer.from(stored.value) };
  }

  private storedTimestamp(): number {
    if (this.visibleEnd === this.lowestOffset) return 0;
    const last = this.stored(this.visibleEnd - 1);
    return checksumHolds(last) ? last.timestampMs : 0;
  }
}
