// Framing for the log: appends turned into frames at the next offsets, in the segments with room,
// and queued for the group commit. The small appends held while a write is under way or about to
// start (a stream's one-record messages, concurrent unary calls) are framed together as one batch:
// one encoding and one buffer of frames for the run, each append still resolved with its own offsets.
import assert from "node:assert/strict";
import type { BufferPool } from "../buffer-pool.ts";
import { StorageFullError } from "../errors.ts";
import { joinBatches, type CheckedBatch } from "./append-batch.ts";
import { FULL_HEADER_BYTES } from "./frame.ts";
import type { GroupCommit, HeldAppend, WriteStep } from "./group-commit.ts";
import { native } from "./native.ts";
import type { SegmentFitting } from "./segment-fitting.ts";

/** An append's batches, held unframed while a write is under way, or being framed. */
export interface HeldBatches extends HeldAppend {
  readonly batches: readonly CheckedBatch[];
}

/**
 * The appends framed as one batch are small ones (one record of a unary Produce or a stream message,
 * say, whose framing costs more than its bytes), up to a run of JOINED_RUN_BYTES_MAX: a larger batch
 * is framed from where it lies, without the copy into one buffer that joining takes.
 */
const JOINED_APPEND_BYTES_MAX = 4096;
const JOINED_RUN_BYTES_MAX = 1 << 20;

/**
 * Whether `append` can be framed in one batch with `head` and the others of a run of `runBytes`:
 * both one small batch, of the same term and type, with the same creation time given (or none: the
 * run gets one when it is framed).
 */
function joinable(head: HeldBatches, append: HeldBatches, runBytes: number): boolean {
  if (append.batches.length !== 1 || head.batches.length !== 1) return false;
  const a = head.batches[0]!;
  const b = append.batches[0]!;
  if (a.bytes > JOINED_APPEND_BYTES_MAX || b.bytes > JOINED_APPEND_BYTES_MAX || runBytes + b.bytes > JOINED_RUN_BYTES_MAX) return false;
  return a.options.timestampMs === b.options.timestampMs && a.options.term === b.options.term && a.options.type === b.options.type;
}

/** What framing works with: the log's segments, its group commit and its memory for frames. */
export interface BatchFramingContext {
  readonly fitting: SegmentFitting;
  readonly commits: GroupCommit<HeldBatches>;
  /** Memory for frames and for values packed before they are framed (BufferPool). */
  readonly buffers: BufferPool;
  /** The creation time of a run: `given` or the clock, never before the last record's. */
  readonly timestamp: (given?: number) => number;
  /** The disk is full: the log stops taking appends. */
  readonly writeFailed: (error: unknown) => void;
}

export class BatchFraming {
  constructor(private readonly context: BatchFramingContext) {}

  /**
   * Frames the appends held since the last write was taken, in order: each run of small one-batch appends with the
   * same options as one batch (one encoding, one buffer of frames), each other append alone. A run
   * that cannot be framed (its new segment could not be created) is refused, having reserved
   * nothing; on a full disk, with every append held after it, as the log stops taking appends. A
   * held append's creation time is taken as its run is framed: after its call, by at most a write.
   */
  frameHeld(held: HeldBatches[]): void {
    for (let start = 0; start < held.length; ) {
      let end = start + 1;
      let runBytes = held[start]!.bytes;
      while (end < held.length && joinable(held[start]!, held[end]!, runBytes)) runBytes += held[end++]!.bytes;
      const run = held.slice(start, end);
      start = end;
      try {
        this.frameRun(run);
      } catch (error) {
        const full = error instanceof StorageFullError;
        for (const append of full ? [...run, ...held.slice(start)] : run) {
          this.context.commits.release(append.bytes);
          append.reject(error);
        }
        if (full) return this.context.writeFailed(error);
      }
    }
  }

  /**
   * Frames `run` at the next offsets (as one batch if it holds several appends), with one creation
   * time, and queues each of its appends, with its own offsets, for the next commit. Throws what
   * framing threw having reserved nothing: the next batch gets the same offsets.
   */
  frameRun(run: readonly HeldBatches[]): void {
    const firstOffset = this.context.fitting.reservedEnd;
    const first = run[0]!.batches;
    const timestampMs = this.context.timestamp(first[0]!.options.timestampMs);
    const steps: WriteStep[] = [];
    const mark = this.context.fitting.mark();
    try {
      if (run.length === 1) {
        for (const batch of first) this.frame(batch, timestampMs, steps);
      } else {
        this.frame(joinBatches(run.map((append) => append.batches[0]!)), timestampMs, steps);
      }
    } catch (error) {
      this.context.fitting.rollBack(mark);
      throw error;
    }
    let at = firstOffset;
    for (let i = 0; i < run.length; i++) {
      const { batches, bytes, resolve, reject } = run[i]!;
      let count = 0;
      for (const batch of batches) count += batch.lengths.length;
      this.context.commits.queue(i === 0 ? steps : [], { firstOffset: at, endOffset: at + count, bytes, resolve, reject });
      at += count;
    }
    assert.equal(at, this.context.fitting.reservedEnd, "the run's appends cover what was framed");
  }

  /** Frames `batch` at the next offsets, into the segments with room, adding the writes to `steps`. */
  private frame(batch: CheckedBatch, timestampMs: number, steps: WriteStep[]): void {
    const { options } = batch;
    let packed: Buffer | undefined;
    const { bytes, offsets, lengths } = batch.gather((valueBytes) => (packed = this.context.buffers.take(valueBytes)));
    for (let start = 0; start < lengths.length; ) {
      const segment = this.context.fitting.segmentWithRoom(FULL_HEADER_BYTES + lengths[start]!, steps);
      const { end, frameBytes } = this.context.fitting.fittingValues(segment, lengths, start);
      const frames = this.context.buffers.take(frameBytes);
      native.encode(
        bytes,
        offsets.subarray(start, end),
        lengths.subarray(start, end),
        segment.baseOffset + segment.reservedCount,
        options.term ?? 0,
        timestampMs,
        options.type ?? 0,
        frames,
      );
      this.context.fitting.reserve(segment, end - start, frames, steps);
      start = end;
    }
    // The frames hold copies of the values now.
    if (packed !== undefined) this.context.buffers.give(packed);
  }
}
