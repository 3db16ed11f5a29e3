// A segment as the log sees it: the native files plus what has been reserved in them by appends
// that are queued but not yet written.
import { rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { native, type NativeSegment } from "./native.ts";

const SUFFIXES = [".store", ".index", ".runindex"] as const;
const NAME_DIGITS = 20;
const STORE_NAME = /^(\d{20})\.store$/;

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

export class Segment {
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
    return Segment.open(directory, baseOffset, indexEntriesMax, true);
  }

  /** Opens a sealed segment: its index is rebuilt where it falls short, but its store is never cut. */
  static openSealed(directory: string, baseOffset: number): Segment {
    return Segment.open(directory, baseOffset, 0, false);
  }

  private static open(directory: string, baseOffset: number, indexEntriesMax: number, repair: boolean): Segment {
    const [store, index, runIndex] = SUFFIXES.map((suffix) => join(directory, fileName(baseOffset, suffix)));
    const files = new native.Segment(store!, index!, runIndex!, baseOffset, indexEntriesMax, repair);
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

  static async removeFiles(directory: string, baseOffset: number): Promise<void> {
    for (const suffix of SUFFIXES) await rm(join(directory, fileName(baseOffset, suffix)), { force: true });
  }

  /** Size of a segment's store file on disk, without opening the segment. */
  static async storeBytes(directory: string, baseOffset: number): Promise<number> {
    return (await stat(join(directory, fileName(baseOffset, ".store")))).size;
  }
}
