// Repair of a log's damaged records: the scrub that finds them (scrub.ts), the damaged ranges it
// reported, and the replacement of such a range with intact copies from a healthy replica
// (Log.replaceRange). A replacement is checked against the log's bounds and segments and against
// the records around it, then the one segment that holds it is rewritten (segment-rewrite.ts) under
// the log's exclusive lock, and what it repaired leaves the damaged ranges. It reads the log only
// through its public reads and only ever puts a rewritten segment in place of an old one, so it
// lives apart from the write and read paths.
import { InvalidArgumentError, OffsetOutOfRangeError } from "../errors.ts";
import type { AppendAdmission } from "./append-admission.ts";
import type { LogConfig } from "./config.ts";
import { decodeFrames, type LogRecord } from "./frame.ts";
import { native } from "./native.ts";
import { unlessDamaged } from "./record-log.ts";
import { scrub, type DamagedRange, type ScrubOptions, type ScrubReport, type ScrubTarget } from "./scrub.ts";
import { segmentHolding, type Segment } from "./segment.ts";
import { checkReplacement, rewriteSegment } from "./segment-rewrite.ts";

/** What repair reads of its log (the Log itself): its bounds (as the scrub), its config and its verified reads. */
export interface RepairedLog extends ScrubTarget {
  readonly config: LogConfig;
  read(offset: number): LogRecord;
  termAt(offset: number): number;
}

export class DamageRepair {
  private damage: readonly DamagedRange[] = [];

  /** `segments` is the log's own list (oldest first, the last one active): a rewritten segment takes its old one's place in it. */
  constructor(
    private readonly log: RepairedLog,
    private readonly segments: Segment[],
    private readonly admission: AppendAdmission,
  ) {}

  /** Log.damagedRanges. */
  get damagedRanges(): readonly DamagedRange[] {
    return this.damage;
  }

  /** Log.scrub, on an open log: what it reports becomes the damaged ranges. */
  async scrub(options: ScrubOptions): Promise<ScrubReport> {
    const report = await scrub(this.log, (offset) => segmentHolding(this.segments, offset).baseOffset, options);
    this.damage = report.damaged;
    return report;
  }

  /** Log.replaceRange. */
  async replaceRange(firstOffset: number, frames: Buffer): Promise<void> {
    if (!Number.isSafeInteger(firstOffset) || firstOffset < 0) throw new InvalidArgumentError(`firstOffset must be a non-negative integer, got ${firstOffset}`);
    if (!Buffer.isBuffer(frames) || frames.length === 0) throw new InvalidArgumentError("replaceRange needs a non-empty Buffer of frames");
    const count = native.verifyFrames(frames, firstOffset);
    const endOffset = firstOffset + count;
    await this.admission.runExclusive(async () => {
      if (firstOffset < this.log.lowestOffset) throw new OffsetOutOfRangeError(BigInt(firstOffset));
      if (endOffset > this.log.nextOffset) throw new OffsetOutOfRangeError(BigInt(endOffset - 1));
      const at = this.segments.indexOf(segmentHolding(this.segments, firstOffset));
      const segment = this.segments[at]!;
      if (endOffset > segment.writtenEnd) {
        throw new InvalidArgumentError(`records [${firstOffset}, ${endOffset}) cross the end of the segment at ${segment.baseOffset} (${segment.writtenEnd})`);
      }
      checkReplacement(decodeFrames(frames, firstOffset), (offset) => this.intactRecord(offset), (offset) => this.storedTerm(offset));
      const sealedCount = at === this.segments.length - 1 ? null : segment.files.count;
      this.segments[at] = await rewriteSegment(segment, firstOffset, frames, count, sealedCount, this.log.config.indexEntriesMax);
      this.damage = this.damage.filter((range) => range.endOffset <= firstOffset || range.firstOffset >= endOffset);
    });
  }

  /** A record that reads back intact, or undefined (outside the log, or damaged). */
  private intactRecord(offset: number): LogRecord | undefined {
    if (offset < this.log.lowestOffset || offset >= this.log.nextOffset) return undefined;
    return unlessDamaged(() => this.log.read(offset));
  }

  /** The term the run index holds for `offset`, or undefined where it cannot be verified. */
  private storedTerm(offset: number): number | undefined {
    return unlessDamaged(() => this.log.termAt(offset));
  }
}
