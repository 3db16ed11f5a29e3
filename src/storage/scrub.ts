// The scrub: reads every visible record back through the verified read path, at a bounded byte
// rate, and reports exactly the records that fail (the ones a reader would get DataLossError for),
// so that latent damage is found before a reader or a failover needs the data.
import { setTimeout as delay, setImmediate as yieldToLoop } from "node:timers/promises";
import { DataLossError, InvalidArgumentError, OffsetOutOfRangeError } from "../errors.ts";
import type { RawFrames } from "./native.ts";
import type { ReadLimits } from "./record-log.ts";

/** Records [firstOffset, endOffset) that fail verification, all within the segment starting at segmentBaseOffset. */
export interface DamagedRange {
  readonly segmentBaseOffset: number;
  readonly firstOffset: number;
  readonly endOffset: number;
}

export interface ScrubReport {
  readonly damaged: readonly DamagedRange[];
  readonly recordsChecked: number;
  readonly bytesChecked: number;
}

export interface ScrubOptions {
  /** Read rate bound in stored bytes per second (0: as fast as the disk allows, still yielding to the event loop). */
  readonly bytesPerSecond?: number;
  readonly signal?: AbortSignal;
}

/** What the scrub needs from a log: its bounds and verified frame reads. */
export interface ScrubTarget {
  readonly lowestOffset: number;
  readonly nextOffset: number;
  readFrames(offset: number, limits: ReadLimits): RawFrames;
}

const CHUNK_BYTES = 1024 * 1024;

/** Scrubs `target`; `segmentBaseOffset` gives the base offset of the segment that holds a record, as no damaged range crosses one. */
export async function scrub(target: ScrubTarget, segmentBaseOffset: (offset: number) => number, options: ScrubOptions = {}): Promise<ScrubReport> {
  const { bytesPerSecond = 0, signal } = options;
  if (!Number.isSafeInteger(bytesPerSecond) || bytesPerSecond < 0) {
    throw new InvalidArgumentError(`bytesPerSecond must be a non-negative integer, got ${bytesPerSecond}`);
  }
  const damaged: DamagedRange[] = [];
  const started = performance.now();
  let bytesChecked = 0;
  let recordsChecked = 0;
  const pace = async (bytes: number): Promise<void> => {
    bytesChecked += bytes;
    signal?.throwIfAborted();
    const waitMs = bytesPerSecond === 0 ? 0 : started + (bytesChecked / bytesPerSecond) * 1000 - performance.now();
    if (waitMs > 0) await delay(waitMs, undefined, { signal });
    else await yieldToLoop(undefined, { signal });
  };
  const markDamaged = (offset: number): void => {
    const base = segmentBaseOffset(offset);
    const last = damaged[damaged.length - 1];
    if (last !== undefined && last.endOffset === offset && last.segmentBaseOffset === base) {
      damaged[damaged.length - 1] = { ...last, endOffset: offset + 1 };
    } else {
      damaged.push({ segmentBaseOffset: base, firstOffset: offset, endOffset: offset + 1 });
    }
  };
  let at = target.lowestOffset;
  while (at < target.nextOffset) {
    at = Math.max(at, target.lowestOffset);
    try {
      const raw = target.readFrames(at, { bytesMax: CHUNK_BYTES });
      at += raw.count;
      recordsChecked += raw.count;
      await pace(raw.frames.length);
    } catch (error) {
      // Retention or truncation moved the log's bounds under the scrub: go on from the new ones.
      if (error instanceof OffsetOutOfRangeError) continue;
      if (!(error instanceof DataLossError)) throw error;
      // Somewhere in this chunk: find the damaged records one at a time, up to the next good one.
      const from = at;
      at = await scrubSingly(target, at, markDamaged, pace);
      recordsChecked += at - from;
    }
  }
  return { damaged, recordsChecked, bytesChecked };
}

/** Reads single records from `at` until one reads back after a damaged one; returns where to go on. */
async function scrubSingly(target: ScrubTarget, at: number, markDamaged: (offset: number) => void, pace: (bytes: number) => Promise<void>): Promise<number> {
  let sawDamage = false;
  while (at < target.nextOffset) {
    try {
      const raw = target.readFrames(at, { countMax: 1 });
      if (sawDamage) return at;
      at += 1;
      await pace(raw.frames.length);
    } catch (error) {
      if (error instanceof OffsetOutOfRangeError) return at;
      if (!(error instanceof DataLossError)) throw error;
      markDamaged(at);
      sawDamage = true;
      at += 1;
      await pace(0);
    }
  }
  return at;
}
