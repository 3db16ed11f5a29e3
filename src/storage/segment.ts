// A segment as the log sees it: the native files plus what has been reserved in them by appends
// that are queued but not yet written.
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { DataLossError } from "../errors.ts";
import { INDEX_ENTRIES_HARD_MAX } from "./config.ts";
import { native, type NativeSegment } from "./native.ts";

const SUFFIXES = [".store", ".index", ".runindex"] as const;
const NAME_DIGITS = 20;
const STORE_NAME = /^(\d{20})\.store$/;

/** The paths of the segment at `baseOffset`'s files (store, index, run index), with `extra` after each name. */
function filePaths(directory: string, baseOffset: number, extra = ""): string[] {
  return SUFFIXES.map((suffix) => join(directory, fileName(baseOffset, suffix) + extra));
}

function fileName(baseOffset: number, suffix: string): string {
  return String(baseOffset).padStart(NAME_DIGITS, "0") + suffix;
}

/** Base offsets of the segments in `names` (a directory listing), ascending. */
export function segmentBaseOffsets(names: readonly string[]): number[] {
  const bases: number[] = [];
  for (const name of names) {
    const match = STORE_NAME.exec(name);
    if (match !== null && Number.isSafeInteger(Number(match[1]))) bases.push(Number(match[1]));
  }
  return bases.sort((a, b) => a - b);
}

/** The segment of `segments` (a log's list, oldest first) that holds `offset`, which must be a record in one of them. */
export function segmentHolding(segments: readonly Segment[], offset: number): Segment {
  let low = 0;
  let high = segments.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (segments[middle]!.baseOffset <= offset) {
      low = middle;
    } else {
      high = middle - 1;
    }
  }
  const segment = segments[low]!;
  assert.ok(segment.baseOffset <= offset && offset < segment.baseOffset + segment.files.count);
  return segment;
}

export class Segment {
  /** Suffix of the files a segment is rewritten into before they are renamed over it. */
  static readonly REWRITE_SUFFIX = ".rewrite";

  /** Records written or queued; the next record queued here gets offset baseOffset + reservedCount. */
  reservedCount: number;
  reservedBytes: number;
  /** Records the index can hold (fixed once open). */
  readonly capacity: number;

  private constructor(
    readonly directory: string,
    readonly baseOffset: number,
    readonly files: NativeSegment,
  ) {
    this.reservedCount = files.count;
    this.reservedBytes = files.storeBytes;
    this.capacity = files.capacity;
  }

  /**
   * Opens (creating if absent) and recovers the active segment: a torn or corrupt tail is cut off.
   * New segments get room for indexEntriesMax records; existing ones keep at least their capacity.
   */
  static openActive(directory: string, baseOffset: number, indexEntriesMax: number): Segment {
    return Segment.open(directory, baseOffset, indexEntriesMax, null);
  }

  /**
   * Opens a sealed segment, which holds exactly `recordCount` records (its successor's base offset
   * minus its own): its index is rebuilt from the store where it is missing, short or damaged, its
   * store is never cut, and records the store cannot account for read as DataLossError.
   */
  static openSealed(directory: string, baseOffset: number, recordCount: number): Segment {
    if (recordCount > INDEX_ENTRIES_HARD_MAX) {
      throw new DataLossError(`segment at ${baseOffset} would hold ${recordCount} records, more than any segment can: its successor is misnamed`);
    }
    const segment = Segment.open(directory, baseOffset, recordCount, recordCount);
    // Its indexes are only read from now on: their pages and files are let go (reads fault the pages back).
    segment.files.releaseMemory();
    return segment;
  }

  /** Opens (creating) the side files a segment is rewritten into, as an empty active segment of `capacity` records. */
  static openRewrite(directory: string, baseOffset: number, capacity: number): Segment {
    return Segment.open(directory, baseOffset, capacity, null, Segment.REWRITE_SUFFIX);
  }

  private static open(directory: string, baseOffset: number, indexEntriesMax: number, sealedCount: number | null, extra = ""): Segment {
    const [store, index, runIndex] = filePaths(directory, baseOffset, extra);
    const files = new native.Segment(store!, index!, runIndex!, baseOffset, indexEntriesMax, sealedCount);
    return new Segment(directory, baseOffset, files);
  }

  /** Offset after the last written record. */
  get writtenEnd(): number {
    return this.baseOffset + this.files.count;
  }

  /** Forgets reservations that were never written (after a failed write). */
  resetReservations(): void {
    this.reservedCount = this.files.count;
    this.reservedBytes = this.files.storeBytes;
  }

  /** Closes and deletes the segment's files. */
  async remove(): Promise<void> {
    this.files.close();
    await Segment.removeFiles(this.directory, this.baseOffset);
  }

  /** Closes and deletes the files of a segment just created that nothing was written to, at once (framing a batch failed part way). */
  discard(): void {
    assert.ok(this.files.count === 0, "only a segment nothing was written to is discarded");
    this.files.close();
    for (const path of filePaths(this.directory, this.baseOffset)) rmSync(path, { force: true });
  }

  static async removeFiles(directory: string, baseOffset: number, extra = ""): Promise<void> {
    for (const path of filePaths(directory, baseOffset, extra)) await rm(path, { force: true });
  }

  /** Deletes the files of a rewrite that never finished (left by a crash), and of one about to start. */
  static async removeRewriteFiles(directory: string, names: readonly string[]): Promise<void> {
    for (const name of names) if (name.endsWith(Segment.REWRITE_SUFFIX)) await rm(join(directory, name), { force: true });
  }

  /**
   * Puts the rewritten files of the segment at `baseOffset` in place of its own: its indexes are
   * removed first, then the new store (the source of truth) and the new indexes are renamed in.
   * Whatever part of this a crash keeps, the store found is whole (old or new) and its indexes are
   * either its own or missing, which open rebuilds. The caller syncs the directory.
   */
  static async installRewrite(directory: string, baseOffset: number): Promise<void> {
    for (const suffix of [".index", ".runindex"]) await rm(join(directory, fileName(baseOffset, suffix)), { force: true });
    for (const suffix of [".store", ".index", ".runindex"]) {
      const target = join(directory, fileName(baseOffset, suffix));
      await rename(target + Segment.REWRITE_SUFFIX, target);
    }
  }

  /** Whether `directory` holds a segment (a log to open there), without opening or creating anything. */
  static async anyIn(directory: string): Promise<boolean> {
    const names = await readdir(directory).catch(() => [] as string[]);
    return names.some((name) => name.endsWith(SUFFIXES[0]));
  }

  /** Size of a segment's store file on disk, without opening the segment. */
  static async storeBytes(directory: string, baseOffset: number): Promise<number> {
    return (await stat(join(directory, fileName(baseOffset, ".store")))).size;
  }
}
