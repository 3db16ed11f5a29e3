// Loader and TypeScript declaration of the native addon (native/addon.cc). Everything that crosses
// into C++ is declared here; callers validate arguments before crossing and C++ checks again.
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { DataLossError, LogClosedError, LogLockedError, StorageFullError, StorageIoError } from "../errors.ts";
import { isNoSpace } from "./full-disk.ts";

export interface SegmentRecovery {
  /** Bytes cut from the end of the store because they did not hold intact frames. */
  readonly truncatedBytes: number;
  /** Frames found in the store beyond the last verified index entry and indexed again. */
  readonly scannedRecords: number;
}

/**
 * Stored frames exactly as on disk (see native/frame.h): `count` records from `firstOffset` on, the
 * first frame full. What Log.readFrames returns, to repair another replica's damaged range.
 */
export interface RawFrames {
  readonly firstOffset: number;
  readonly count: number;
  readonly frames: Buffer;
}

/** One segment's files. Records are addressed by their index relative to the segment's base offset. */
export interface NativeSegment {
  /** Records written (not necessarily synced). */
  readonly count: number;
  readonly storeBytes: number;
  /** Records the index can hold. */
  readonly capacity: number;
  readonly recovery: SegmentRecovery;
  /** Writes frames that continue the segment, then fdatasyncs when `sync`; one in flight at a time. */
  append(frames: Buffer[], sync: boolean): Promise<void>;
  sync(): Promise<void>;
  /** Keeps the first `count` records and syncs; nothing may read past `count` meanwhile. */
  truncate(count: number): Promise<void>;
  /**
   * Verified frames from `relative` on, with their first offset and their count (from the one walk
   * that verifies them): at least one, at most countMax, within bytesMax stored bytes unless the
   * first is larger, and only up to the first damaged record (DataLossError if that is the first).
   * The first frame is returned full.
   */
  read(relative: number, countMax: number, bytesMax: number): RawFrames;
  /** Relative index of the first record created at or after `ms`, or -1. */
  findTime(ms: number): number;
  /**
   * The term stored with the record at `relative` (< count), from the run index in memory: no store
   * read, except once for a run kept from the file at open, which is checked against the store first.
   */
  termAt(relative: number): number;
  /** Drops the index maps' pages from the resident set and closes the index files (a sealed segment; reads fault the pages back). */
  releaseMemory(): void;
  close(): void;
}

interface NativeAddon {
  Segment: new (
    storePath: string,
    indexPath: string,
    runIndexPath: string,
    baseOffset: number,
    indexEntriesMax: number,
    /** null: the active segment (a torn tail is cut); else a sealed segment's record count (see Segment.openSealed). */
    sealedCount: number | null,
  ) => NativeSegment;
  initialize(errorFactory: (code: string, message: string, errno: number) => Error): void;
  /**
   * Writes into `into` the frames for the values bytes[offsets[i], offsets[i] + lengths[i]) (a
   * GatheredValues), at consecutive offsets from firstOffset: one full frame, then compact ones.
   * `into` must be exactly their length (frame.ts encodedBytes) and apart from `bytes`.
   */
  encode(bytes: Uint8Array, offsets: Uint32Array, lengths: Uint32Array, firstOffset: number, term: number, timestampMs: number, type: number, into: Uint8Array): void;
  /** Number of frames; throws DataLossError unless all are intact, consecutive from firstOffset, the first full. */
  verifyFrames(frames: Uint8Array, firstOffset: number): number;
  lockDirectory(path: string): number;
  unlockDirectory(fd: number): void;
  /** Sets glibc malloc's mmap and trim thresholds for the whole process (native/allocator.cc); false where it cannot. */
  tuneAllocator(mmapThresholdBytes: number, trimThresholdBytes: number): boolean;
}

function makeError(code: string, message: string, errno: number): Error {
  switch (code) {
    case "CORRUPT":
      return new DataLossError(message);
    case "IO":
      return isNoSpace(errno) ? new StorageFullError(message, errno) : new StorageIoError(message, errno);
    case "CLOSED":
      return new LogClosedError(message);
    case "LOCKED":
      return new LogLockedError(message);
    default:
      // "INVALID": the caller broke the native contract, a programming error.
      return new Error(`native contract violated: ${message}`);
  }
}

// node-gyp-build loads the addon built in this checkout (build/Release) or, in an installed package,
// the prebuilt one shipped in prebuilds/<platform>-<arch>/ (built from source at install when none
// fits). Both src/storage/ and dist/storage/ sit two folders below the package root.
const require = createRequire(import.meta.url);
const loadAddon = require("node-gyp-build") as (packageRoot: string) => NativeAddon;
export const native: NativeAddon = loadAddon(fileURLToPath(new URL("../..", import.meta.url)));
native.initialize(makeError);
