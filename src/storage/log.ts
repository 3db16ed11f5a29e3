// The log: an ordered list of segments in one directory, the last of which takes appends.
//
// Offsets are JavaScript numbers (safe integers). A record becomes visible to readers only once it
// is as durable as the policy promises, so a reader never sees a record that a crash could take
// back. Operations that rewrite the tail or a segment (truncateAfter, replaceRange, the cut after a
// full disk) and close wait for queued appends and hold new ones back while they run. Damage is
// reported for exactly the records it touches, found ahead of readers by the scrub, and repaired
// with replaceRange; a full disk stops appends (`writable`, the "writable" event) until space returns.
//
// Log is the facade; these concerns live beside it, each in its own file: opening and recovering
// the directory (log-opening.ts), the checks of an append in either shape of batch
// (append-batch.ts), admission of appends and the exclusive lock (append-admission.ts), how batches
// fit segments and when they rotate (segment-fitting.ts), appends framed and queued, small ones
// held during a write framed together (batch-framing.ts), the sync on a timer of the "interval"
// policy (interval-sync.ts), a full disk and the wait for free space (full-disk.ts), the scrub's
// damaged ranges and their replacement (damage-repair.ts), and retention, index-page release and the
// scheduled scrub (log-housekeeping.ts). What stays here is the write, read and truncation paths
// they serve.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { BufferPool } from "../buffer-pool.ts";
import { BatchTooLargeError, InvalidArgumentError, LogClosedError, OffsetOutOfRangeError, StorageFullError, StorageIoError } from "../errors.ts";
import { silentLogger, type Logger } from "../logger.ts";
import { AppendAdmission } from "./append-admission.ts";
import { BatchFraming, type HeldBatches } from "./batch-framing.ts";
import { checkBatch, measureGathered, measureValues, type CheckedBatch, type MeasuredBatch } from "./append-batch.ts";
import { resolveLogConfig, type LogConfig } from "./config.ts";
import { DamageRepair } from "./damage-repair.ts";
import { decodeFrames, type LogRecord } from "./frame.ts";
import { FullDisk } from "./full-disk.ts";
import type { GatheredValues } from "./gathered-values.ts";
import { GroupCommit, syncDirectory } from "./group-commit.ts";
import { IntervalSync } from "./interval-sync.ts";
import { LogHousekeeping, type HousekeptLog } from "./log-housekeeping.ts";
import { openSegments, type RecoveryReport } from "./log-opening.ts";
import { native, type RawFrames } from "./native.ts";
import { OffsetWaiters } from "./offset-waiters.ts";
import { checkReadLimits, unlessDamaged, type AppendOptions, type ReadLimits, type RecordLog } from "./record-log.ts";
import type { DamagedRange, ScrubOptions, ScrubReport } from "./scrub.ts";
import { Segment, segmentHolding } from "./segment.ts";
import { SegmentFitting } from "./segment-fitting.ts";

export type { RawFrames } from "./native.ts";
export type { RecoveryReport } from "./log-opening.ts";

/** What a log is handed at open besides its configuration. */
export interface LogDependencies {
  /** Where it reports damage, a full disk and failed housekeeping (default: nowhere). */
  readonly logger?: Logger;
  /** Where it reports its commits, and who reads its size at scrape time (default: nobody). */
  readonly metrics?: LogMetrics;
}

/** What a log tells the node's metrics (src/observability): once per commit or sync, never per record. */
export interface LogMetrics {
  /** Called once, as the log opens: the metrics read its offsets and sizes when they are scraped. */
  observe(log: Log): void;
  /** A group commit made `records` more records visible. */
  committed(records: number): void;
  /** One write-and-fdatasync of a commit (or the sync of a segment being sealed) took `seconds`. */
  synced(seconds: number): void;
}

/** What a log reports as it runs. */
export interface LogEvents {
  /** The background scrubber found damaged records (all it found in its last pass). */
  damage: [ranges: readonly DamagedRange[]];
  /** Appends stopped (false: the disk filled up) or started again (true: space is free again). */
  writable: [writable: boolean];
}

export class Log extends EventEmitter<LogEvents> implements RecordLog {
  private visibleEnd: number;
  private lastTimestampMs = 0;
  private state: "open" | "closing" | "closed" = "open";
  private closing: Promise<void> | null = null;
  private failure: unknown = null;
  private readonly commits: GroupCommit<HeldBatches>;
  /**
   * Memory for encoded frames, given back once their write is done (the worker no longer reads
   * them), and for values packed into one buffer before they are framed, given back once they are.
   */
  private readonly buffers = new BufferPool();
  private readonly admission: AppendAdmission;
  private readonly fitting: SegmentFitting;
  private readonly framing: BatchFraming;
  private readonly housekeeping: LogHousekeeping;
  private readonly waiters = new OffsetWaiters();
  /** Present under the "interval" durability policy only. */
  private readonly intervalSync: IntervalSync | undefined;
  private readonly fullDisk: FullDisk;
  private readonly repair: DamageRepair;

  private constructor(
    readonly directory: string,
    readonly config: LogConfig,
    private readonly segments: Segment[],
    private readonly lockFd: number,
    readonly recovery: RecoveryReport,
    private readonly logger: Logger,
    private readonly metrics: LogMetrics | undefined,
  ) {
    super();
    this.visibleEnd = this.active.writtenEnd;
    this.commits = new GroupCommit({
      syncEachCommit: config.durability === "fsync",
      pendingBytesMax: config.pendingBytesMax,
      onCommitted: (end) => this.committed(end),
      onWritten: (frames) => this.buffers.give(frames),
      ...(metrics === undefined ? {} : { onSynced: (seconds: number) => metrics.synced(seconds) }),
      onFailed: (error) => this.writeFailed(error),
      frameHeld: (held) => this.framing.frameHeld(held),
    });
    if (config.durability === "interval") {
      this.intervalSync = new IntervalSync(config.syncIntervalMs, {
        canSync: () => this.state === "open" && !this.admission.busy,
        sync: () => this.active.files.sync(),
        failed: (error) => this.writeFailed(error),
      });
    }
    this.admission = new AppendAdmission(this.commits, {
      isOpen: () => this.state === "open",
      checkWritable: () => this.checkWritable(),
      checkNotFailed: () => this.checkNotFailed(),
      writeFailed: (error) => this.writeFailed(error),
      pendingSync: () => this.intervalSync?.pending ?? Promise.resolve(),
    });
    this.fitting = new SegmentFitting(directory, config, segments);
    this.framing = new BatchFraming({
      fitting: this.fitting,
      commits: this.commits,
      buffers: this.buffers,
      timestamp: (given) => this.nextTimestamp(given),
      writeFailed: (error) => this.writeFailed(error),
    });
    this.fullDisk = new FullDisk(this.commits, {
      directory,
      logger,
      isOpen: () => this.state === "open",
      // The directory is synced too: a segment created for the failed batch may stay as the active one.
      cutBack: () => this.admission.runExclusive(() => this.cutTo(this.visibleEnd).then(() => syncDirectory(this.directory)), false),
      writable: (writable) => this.emit("writable", writable),
      failed: (error) => {
        this.failure = error;
      },
    });
    this.repair = new DamageRepair(this, segments, this.admission);
    this.housekeeping = new LogHousekeeping(this.housekeptView());
  }

  /** Whether `directory` holds a log (its segments), found without opening or creating anything. */
  static existsIn(directory: string): Promise<boolean> {
    return Segment.anyIn(directory);
  }

  /**
   * Opens the log in `directory` (created if absent), locking it against other processes. The
   * active segment's tail is verified and repaired; sealed segments are trusted as synced, except
   * that an index that is missing, short or damaged is rebuilt from its store, and records a sealed
   * store lacks read as DataLossError (the log still opens). Every file created or removed on the
   * way is made durable (the directory is fsynced) before the log is returned.
   */
  static async open(directory: string, overrides: Partial<LogConfig> = {}, dependencies: LogDependencies = {}): Promise<Log> {
    const config = resolveLogConfig(overrides);
    const { segments, lockFd, recovery } = await openSegments(directory, config);
    const log = new Log(directory, config, segments, lockFd, recovery, dependencies.logger ?? silentLogger, dependencies.metrics);
    log.lastTimestampMs = log.lastStoredTimestamp();
    dependencies.metrics?.observe(log);
    return log;
  }

  /** Offset of the first retained record (equal to nextOffset when the log is empty). */
  get lowestOffset(): number {
    return this.segments[0]!.baseOffset;
  }

  /** Offset the next appended record will get once everything queued is committed; the end of what readers see. */
  get nextOffset(): number {
    return this.visibleEnd;
  }

  /** Offset of the last visible record, or undefined when the log is empty. */
  get highestOffset(): number | undefined {
    return this.visibleEnd > this.lowestOffset ? this.visibleEnd - 1 : undefined;
  }

  /** The creation time the next batch gets at least: the latest given to a stored record (0 if none). */
  get latestTimestampMs(): number {
    return this.lastTimestampMs;
  }

  /** The largest record value append takes (config.recordBytesMax). */
  get recordBytesMax(): number {
    return this.config.recordBytesMax;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Bytes of records in the segments' stores (written, not necessarily synced). */
  get storeBytes(): number {
    let bytes = 0;
    for (const segment of this.segments) bytes += segment.files.storeBytes;
    return bytes;
  }

  /**
   * Appends records with consecutive offsets; resolves with the first offset once the batch is as
   * durable as the policy promises. Waits (backpressure) while pendingBytesMax bytes are in flight.
   */
  append(values: readonly Uint8Array[], options: AppendOptions = {}): Promise<number> {
    return this.appendMeasured(() => measureValues(values), options);
  }

  /**
   * append for values gathered in one buffer (see GatheredValues), refused by the same checks with
   * the same errors: each value is framed straight from where it lies, with no object per value and
   * no copy before the frames. The bytes must not change until the promise settles.
   */
  appendGathered(batch: GatheredValues, options: AppendOptions = {}): Promise<number> {
    return this.appendMeasured(() => measureGathered(batch), options);
  }

  /** Admits the batch `measure` returns once checked with `options`, or rejects with what either throws, having queued nothing. */
  private appendMeasured(measure: () => MeasuredBatch, options: AppendOptions): Promise<number> {
    let batch: CheckedBatch;
    try {
      batch = checkBatch(measure(), options, this.config);
    } catch (error) {
      return Promise.reject(error);
    }
    return this.appendChecked(batch);
  }

  /**
   * append for a batch checkBatch already passed against this log's config, for a caller that must
   * know the batch is taken before it appends anything else: the batch is measured and checked once,
   * not again here.
   */
  appendChecked(batch: CheckedBatch): Promise<number> {
    return this.appendTogether([batch]);
  }

  /**
   * Appends checked batches as one unit: consecutive offsets, one creation time (from the first
   * batch's options), written in one commit and shown to readers together; resolves with the first
   * batch's first offset. An idempotent producer's mark and its records go so (LogProducers): as two
   * appends, the mark was committed alone, readers saw it, and a crash before its records made the
   * next start cut it and give its offset to another record.
   */
  appendTogether(batches: readonly CheckedBatch[]): Promise<number> {
    assert.ok(batches.length > 0 && batches.every((batch) => batch.limits === this.config), "a batch is checked against the limits of the log it is appended to");
    const bytes = batches.reduce((sum, batch) => sum + batch.bytes, 0);
    // One batch is held to batchBytesMax, at most pendingBytesMax; batches together may exceed it.
    if (bytes > this.config.pendingBytesMax) return Promise.reject(new BatchTooLargeError(`${bytes} bytes appended together exceed pendingBytesMax ${this.config.pendingBytesMax}: send smaller batches`));
    return this.admission.admit(bytes, () => this.enqueue(batches, bytes));
  }

  /**
   * Frames and queues the batches now, or, while a write is under way or about to start, holds them
   * to be framed with the other appends held meanwhile before the next write is taken
   * (BatchFraming.frameHeld). Throws what framing now throws.
   */
  private enqueue(batches: readonly CheckedBatch[], bytes: number): Promise<number> {
    if (this.commits.writing) return new Promise((resolve, reject) => this.commits.hold({ batches, bytes, resolve, reject }));
    let append!: HeldBatches;
    const committed = new Promise<number>((resolve, reject) => (append = { batches, bytes, resolve, reject }));
    this.framing.frameRun([append]);
    return committed;
  }

  /** The record at `offset`; OffsetOutOfRangeError outside [lowestOffset, nextOffset), DataLossError if damaged. */
  read(offset: number | bigint): LogRecord {
    const at = this.checkReadable(offset);
    const segment = segmentHolding(this.segments, at);
    return decodeFrames(segment.files.read(at - segment.baseOffset, 1, 0).frames, at)[0]!;
  }

  /**
   * Records from `offset` on, across segments, within the limits, up to the first damaged record:
   * DataLossError only when the record at `offset` is damaged, so a reader gets everything before it.
   */
  readRange(offset: number | bigint, limits: ReadLimits = {}): LogRecord[] {
    let at = this.checkReadable(offset);
    let { countMax, bytesMax } = checkReadLimits(limits);
    const records: LogRecord[] = [];
    while (at < this.visibleEnd && countMax > 0 && (records.length === 0 || bytesMax > 0)) {
      // A later segment's damaged first record ends the range; only the first read reports it.
      const raw = records.length === 0 ? this.framesFrom(at, countMax, bytesMax) : unlessDamaged(() => this.framesFrom(at, countMax, bytesMax));
      if (raw === undefined) break;
      if (records.length > 0 && raw.frames.length > bytesMax) break;
      decodeFrames(raw.frames, at, records);
      at += raw.count;
      countMax -= raw.count;
      bytesMax -= raw.frames.length;
    }
    return records;
  }

  /**
   * Stored frames from `offset` on, within the limits and within one segment, up to the first
   * damaged record (DataLossError when that is the record at `offset`).
   */
  readFrames(offset: number | bigint, limits: ReadLimits = {}): RawFrames {
    const at = this.checkReadable(offset);
    const { countMax, bytesMax } = checkReadLimits(limits);
    return this.framesFrom(at, countMax, bytesMax);
  }

  /** readFrames from `at`, an offset already checked readable, with limits already checked. */
  private framesFrom(at: number, countMax: number, bytesMax: number): RawFrames {
    const segment = segmentHolding(this.segments, at);
    const available = Math.min(segment.writtenEnd, this.visibleEnd) - at;
    return segment.files.read(at - segment.baseOffset, Math.min(countMax, available), bytesMax);
  }

  /**
   * The term stored with the record at `offset`. Raft asks for it per entry, so it is a lookup in the
   * segment's run index in memory, with no syscall once the run is trusted (see NativeSegment.termAt).
   */
  termAt(offset: number): number {
    const at = this.checkReadable(offset);
    const segment = segmentHolding(this.segments, at);
    return segment.files.termAt(at - segment.baseOffset);
  }

  /** Offset of the first visible record created at or after `ms`, or undefined if there is none. */
  offsetForTime(ms: number): number | undefined {
    this.checkOpen();
    if (!Number.isSafeInteger(ms) || ms < 0) throw new InvalidArgumentError(`time must be a non-negative integer of ms, got ${ms}`);
    for (const segment of this.segments) {
      const relative = segment.files.findTime(ms);
      if (relative < 0) continue;
      const offset = segment.baseOffset + relative;
      return offset < this.visibleEnd ? offset : undefined;
    }
    return undefined;
  }

  /**
   * Resolves once `offset` is readable. Rejects with OffsetOutOfRangeError below lowestOffset,
   * LogClosedError when the log closes, or the signal's reason when aborted.
   */
  waitFor(offset: number, signal?: AbortSignal): Promise<void> {
    this.checkOpen();
    if (offset < this.lowestOffset) return Promise.reject(new OffsetOutOfRangeError(BigInt(offset)));
    if (offset < this.visibleEnd) return Promise.resolve();
    return this.waiters.wait(offset, signal);
  }

  /** Removes every record after `offset` durably (Raft's conflict truncation). offset may be lowestOffset - 1. */
  async truncateAfter(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < this.lowestOffset - 1) throw new OffsetOutOfRangeError(BigInt(offset));
    await this.admission.runExclusive(async () => {
      const end = offset + 1;
      if (end >= this.visibleEnd) return;
      this.visibleEnd = end;
      await this.cutTo(end);
    });
  }

  /** Cuts everything written at or after `end` (which readers no longer see) and forgets what was reserved there. */
  private async cutTo(end: number): Promise<void> {
    assert.ok(end <= this.visibleEnd, "only records readers no longer see are cut");
    // Newest first, and durably before the cut: a crash part way leaves a shorter but whole log,
    // and segments once removed never come back behind records written after them.
    const removing = this.segments.length > 1 && this.active.baseOffset > end;
    while (this.segments.length > 1 && this.active.baseOffset > end) await this.segments.pop()!.remove();
    if (removing) await syncDirectory(this.directory);
    const target = this.active;
    await target.files.truncate(end - target.baseOffset);
    target.resetReservations();
    assert.equal(this.fitting.reservedEnd, end);
    this.lastTimestampMs = this.lastStoredTimestamp();
  }

  /** False while appends fail because the disk is full (or after a failure that needs a reopen). */
  get writable(): boolean {
    return this.state === "open" && this.failure === null && !this.fullDisk.isFull;
  }

  /** Whether appends fail because the disk is full, which passes by itself once space is free (unlike any other failure). */
  get diskFull(): boolean {
    return this.state === "open" && this.failure === null && this.fullDisk.isFull;
  }

  /**
   * A write or sync failed. A full disk on an open log is an operating condition that passes
   * (full-disk.ts); any other failure needs the log to be reopened.
   */
  private writeFailed(error: unknown): void {
    if (error instanceof StorageFullError && this.state === "open") {
      this.fullDisk.filled(error);
    } else {
      this.failure = error;
    }
  }

  /**
   * Deletes every record and restarts the log empty at `offset` (a Raft follower installing a start
   * point it is too far behind to reach by appends). Durable when it resolves.
   */
  async resetTo(offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`offset must be a non-negative integer, got ${offset}`);
    await this.admission.runExclusive(async () => {
      // Newest first, so that a crash part way leaves a shorter but whole log, never one with a gap.
      this.visibleEnd = this.lowestOffset;
      while (this.segments.length > 1) await this.segments.pop()!.remove();
      const first = this.segments[0]!;
      first.files.close();
      await Segment.removeFiles(this.directory, first.baseOffset);
      await syncDirectory(this.directory);
      this.segments[0] = Segment.openActive(this.directory, offset, this.config.indexEntriesMax);
      this.visibleEnd = offset;
      this.lastTimestampMs = 0;
      await syncDirectory(this.directory);
    });
  }

  /**
   * Applies the retention policy (config.retentionBytes, config.retentionMs) now: drops the oldest
   * sealed segments while the stored bytes exceed the budget or while every record in them is older
   * than the age limit (a segment's records are no newer than the next segment's first, as times never
   * go back). Runs by itself in the background (log-housekeeping.ts); returns the new lowest offset.
   */
  async enforceRetention(): Promise<number> {
    this.checkOpen();
    return this.housekeeping.enforceRetention();
  }

  /** Deletes whole segments whose records all precede `offset` (never the active one), durably; returns the new lowest offset. */
  async dropBefore(offset: number): Promise<number> {
    this.checkOpen();
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidArgumentError(`offset must be a non-negative integer, got ${offset}`);
    return this.housekeeping.dropBefore(offset);
  }

  /**
   * Reads every visible record back through the verified read path, at most options.bytesPerSecond
   * stored bytes a second, and reports the records that fail: exactly those a read would answer
   * with DataLossError. Ranges are [firstOffset, endOffset), ascending, each within one segment. The
   * report also becomes `damagedRanges`. The background scrubber (config.scrubBytesPerSecond) calls
   * this every config.scrubIntervalMs.
   */
  async scrub(options: ScrubOptions = {}): Promise<ScrubReport> {
    this.checkOpen();
    return this.repair.scrub(options);
  }

  /** The log as its housekeeping sees it: live views of its state, and the operations it may run. */
  private housekeptView(): HousekeptLog {
    const log = this;
    return {
      directory: this.directory,
      config: this.config,
      logger: this.logger,
      segments: this.segments,
      get lowestOffset() {
        return log.lowestOffset;
      },
      get nextOffset() {
        return log.nextOffset;
      },
      get open() {
        return log.state === "open";
      },
      get failed() {
        return log.failure !== null;
      },
      read: (offset) => this.read(offset),
      runExclusive: (operation) => this.admission.runExclusive(operation),
      scrub: (options) => this.scrub(options),
      damaged: (ranges) => this.emit("damage", ranges),
    };
  }

  /** Damaged records the last scrub found, less those replaced since. */
  get damagedRanges(): readonly DamagedRange[] {
    return this.repair.damagedRanges;
  }

  /**
   * Replaces the stored records [firstOffset, firstOffset + n) with `frames`, durably: for repairing
   * a damaged range (as scrub reports it) with records fetched from a healthy replica.
   *
   * Contract: `frames` are n stored frames as another log's readFrames returns them (intact,
   * consecutive from firstOffset, the first one full; checked here: DataLossError otherwise). The
   * range must lie within [lowestOffset, nextOffset) (OffsetOutOfRangeError) and within one of this
   * log's segments (InvalidArgumentError; a DamagedRange never crosses one). Every other record of
   * that segment must read back intact (DataLossError otherwise: join the damaged ranges of one
   * segment, DamagedRange.segmentBaseOffset, into one call). The records must fit the log around
   * them (InvalidArgumentError otherwise): terms and creation times never decrease across the range
   * and its intact neighbours, and where this log still holds a record's term it must match. When
   * the promise resolves the new records are on disk and the directory synced; reads see them at
   * once. Appends wait while it runs; it costs one rewrite of the segment.
   */
  replaceRange(firstOffset: number, frames: Buffer): Promise<void> {
    return this.repair.replaceRange(firstOffset, frames);
  }

  /** fdatasyncs the active segment now, whatever the policy. */
  async sync(): Promise<void> {
    this.checkOpen();
    await this.commits.drain();
    await this.active.files.sync();
  }

  /** Waits for queued appends, syncs if the policy had not, and releases the directory. */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.state = "closing";
    this.waiters.close(new LogClosedError());
    await this.admission.idle();
    await this.commits.drain();
    this.intervalSync?.stop();
    this.housekeeping.stop(new LogClosedError());
    this.fullDisk.stop();
    await this.intervalSync?.pending;
    try {
      if (this.config.durability !== "fsync" && this.failure === null) await this.active.files.sync();
    } finally {
      for (const segment of this.segments) segment.files.close();
      native.unlockDirectory(this.lockFd);
      this.state = "closed";
    }
  }

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  private committed(end: number): void {
    assert.ok(end >= this.visibleEnd, "commits are in offset order");
    this.metrics?.committed(end - this.visibleEnd);
    this.visibleEnd = end;
    this.intervalSync?.committed();
    this.waiters.release(end);
  }

  private checkOpen(): void {
    if (this.state !== "open") throw new LogClosedError();
  }

  private checkWritable(): void {
    this.checkNotFailed();
    this.fullDisk.checkNotFull();
  }

  private checkNotFailed(): void {
    this.checkOpen();
    if (this.failure !== null) {
      throw new StorageIoError("the log failed to write or sync and must be reopened", 0, { cause: this.failure });
    }
  }

  /** Creation time for a new batch: the given time or the clock, but never earlier than the last record's. */
  private nextTimestamp(given?: number): number {
    const now = Math.floor(given ?? this.config.clock());
    this.lastTimestampMs = Math.max(this.lastTimestampMs, Number.isSafeInteger(now) && now > 0 ? now : 1);
    return this.lastTimestampMs;
  }

  private lastStoredTimestamp(): number {
    const last = this.highestOffset;
    if (last === undefined) return 0;
    return unlessDamaged(() => this.read(last).timestampMs) ?? 0;
  }

  /**
   * The readable offset `offset` as a number: the one conversion of a caller's bigint on the read
   * path (a bigint beyond the safe integers rounds, but stays beyond every offset, so is out of range).
   */
  private checkReadable(offset: number | bigint): number {
    this.checkOpen();
    if (typeof offset === "number" && !Number.isInteger(offset)) throw new InvalidArgumentError(`offset must be an integer, got ${offset}`);
    const at = Number(offset);
    if (at < this.lowestOffset || at >= this.visibleEnd) throw new OffsetOutOfRangeError(BigInt(offset));
    return at;
  }
}
