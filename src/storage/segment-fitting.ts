// Segment fitting: how many records of a batch the active segment takes under the per-segment
// limits (config.indexEntriesMax records, config.storeBytesMax store bytes), and when a new segment
// must be started, sealing the old. Every rotation is decided here, so the arithmetic of the limits
// (including the growth of a run's first frame) is in one place, apart from the encoding and the
// commit of what it plans.
import assert from "node:assert/strict";
import type { LogConfig } from "./config.ts";
import { COMPACT_HEADER_BYTES, REHEAD_GROWTH_BYTES } from "./frame.ts";
import type { WriteStep } from "./group-commit.ts";
import { Segment } from "./segment.ts";

/** Where the fitting stood before a batch was framed: what rollBack returns to. */
export interface FittingMark {
  readonly segments: number;
  readonly reservedCount: number;
  readonly reservedBytes: number;
}

export class SegmentFitting {
  /** `segments` is the log's own list (oldest first, the last one active): new segments are pushed onto it. */
  constructor(
    private readonly directory: string,
    private readonly config: LogConfig,
    private readonly segments: Segment[],
  ) {}

  /** The segment that takes appends: the last. */
  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  /** Offset after the last record written or queued. */
  get reservedEnd(): number {
    return this.active.baseOffset + this.active.reservedCount;
  }

  /** The active segment if a frame of `frameBytes` fits in it, else a new one (sealing the old), with the steps that do so. */
  segmentWithRoom(frameBytes: number, steps: WriteStep[]): Segment {
    const active = this.active;
    if (this.hasRoom(active, active.reservedBytes + frameBytes)) return active;
    const next = Segment.openActive(this.directory, this.reservedEnd, this.config.indexEntriesMax);
    this.segments.push(next);
    steps.push({ segment: active, frames: [], seal: true, syncDirectory: false });
    steps.push({ segment: next, frames: [], seal: false, syncDirectory: true });
    return next;
  }

  /**
   * End (exclusive) of the values from `start` that fit in `segment` as one run (at least one), and
   * the bytes of their frames (frame.ts encodedBytes).
   */
  fittingValues(segment: Segment, lengths: Uint32Array, start: number): { end: number; frameBytes: number } {
    const endMax = Math.min(lengths.length, start + this.countLimit(segment) - segment.reservedCount);
    let end = start;
    let frameBytes = REHEAD_GROWTH_BYTES;
    const room = this.config.storeBytesMax - segment.reservedBytes;
    while (end < endMax && frameBytes + COMPACT_HEADER_BYTES + lengths[end]! <= room) {
      frameBytes += COMPACT_HEADER_BYTES + lengths[end]!;
      end++;
    }
    assert.ok(end > start, "a segment with room takes at least one record");
    return { end, frameBytes };
  }

  /** Reserves `count` records of `frames` in `segment` and adds their write to `steps`. */
  reserve(segment: Segment, count: number, frames: Buffer, steps: WriteStep[]): void {
    segment.reservedCount += count;
    segment.reservedBytes += frames.length;
    steps.push({ segment, frames: [frames], seal: false, syncDirectory: false });
  }

  /** Where the fitting stands now, for rollBack. */
  mark(): FittingMark {
    const active = this.active;
    return { segments: this.segments.length, reservedCount: active.reservedCount, reservedBytes: active.reservedBytes };
  }

  /**
   * Forgets what was reserved since `mark` (framing a batch failed part way: a new segment could not
   * be created), and discards the segments started since, so the next batch takes the same offsets
   * and no reserved offset is left that nothing will write.
   */
  rollBack(mark: FittingMark): void {
    while (this.segments.length > mark.segments) this.segments.pop()!.discard();
    this.active.reservedCount = mark.reservedCount;
    this.active.reservedBytes = mark.reservedBytes;
  }

  /** Records `segment` may hold under the configured limit (a reopened segment may have room for more). */
  private countLimit(segment: Segment): number {
    return Math.min(segment.capacity, this.config.indexEntriesMax);
  }

  /** Whether `segment` takes one more record, its store then holding `bytes`. */
  private hasRoom(segment: Segment, bytes: number): boolean {
    return segment.reservedCount < this.countLimit(segment) && bytes <= this.config.storeBytesMax;
  }
}
