// Opening a log's directory: it is created if absent and locked against other processes, what a
// crash left half done (rewrite side files, empty segments at the end) is removed, and the segments
// are opened and recovered, oldest first, the last one active. This runs once, before a Log exists,
// and needs none of its state, so it lives apart from the log that takes over what it opened.
import { readdir } from "node:fs/promises";
import { makeDirectory } from "../make-directory.ts";
import type { LogConfig } from "./config.ts";
import { syncDirectory } from "./group-commit.ts";
import { native } from "./native.ts";
import { Segment, segmentBaseOffsets } from "./segment.ts";

export interface RecoveryReport {
  /** Bytes of torn or corrupt tail cut from the active segment. */
  readonly truncatedBytes: number;
  /** Records found in stores beyond their index and indexed again. */
  readonly scannedRecords: number;
  readonly segments: number;
  /** Empty segments removed from the end of the log (a crash just after a rotation leaves one). */
  readonly emptySegmentsRemoved: number;
}

/** A log directory opened: its segments, the lock on it (released with native.unlockDirectory), and what recovery did. */
export interface OpenedSegments {
  readonly segments: Segment[];
  readonly lockFd: number;
  readonly recovery: RecoveryReport;
}

/**
 * Opens the segments in `directory` as Log.open describes: the active segment's tail is verified and
 * repaired; sealed segments are trusted as synced, but their indexes rebuilt where missing, short or
 * damaged. Every file created or removed on the way is durable (the directory synced) when it
 * resolves; if it throws, everything it opened is closed and the directory unlocked.
 */
export async function openSegments(directory: string, config: LogConfig): Promise<OpenedSegments> {
  await makeDirectory(directory);
  const lockFd = native.lockDirectory(directory);
  const segments: Segment[] = [];
  let emptySegmentsRemoved = 0;
  try {
    const names = await readdir(directory);
    await Segment.removeRewriteFiles(directory, names);
    const bases = segmentBaseOffsets(names);
    // Rotation creates a segment's files before the previous segment's last writes land, so a
    // crash can leave empty segments at the end: they hold nothing and are removed.
    while (bases.length > 1 && (await Segment.storeBytes(directory, bases[bases.length - 1]!)) === 0) {
      await Segment.removeFiles(directory, bases.pop()!);
      emptySegmentsRemoved++;
    }
    const activeBase = bases.pop() ?? config.initialOffset;
    bases.forEach((base, i) => segments.push(Segment.openSealed(directory, base, (bases[i + 1] ?? activeBase) - base)));
    segments.push(Segment.openActive(directory, activeBase, config.indexEntriesMax));
    await syncDirectory(directory);
  } catch (error) {
    for (const segment of segments) segment.files.close();
    native.unlockDirectory(lockFd);
    throw error;
  }
  const recovery: RecoveryReport = {
    truncatedBytes: segments.reduce((sum, s) => sum + s.files.recovery.truncatedBytes, 0),
    scannedRecords: segments.reduce((sum, s) => sum + s.files.recovery.scannedRecords, 0),
    segments: segments.length,
    emptySegmentsRemoved,
  };
  return { segments, lockFd, recovery };
}
