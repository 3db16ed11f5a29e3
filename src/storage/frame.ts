// Frames in JavaScript; the layout is defined in native/frame.h. A full frame (32-byte header)
// starts each run of records appended together and carries the run's term, creation time and type;
// the following compact frames (8-byte header) take them over. Frames reach JavaScript only after
// the addon verified their checksums, and every buffer of frames starts with a full frame.
import assert from "node:assert/strict";

export const FULL_HEADER_BYTES = 32;
export const COMPACT_HEADER_BYTES = 8;
/** What a compact frame grows by when it is rewritten as a full one. */
export const REHEAD_GROWTH_BYTES = FULL_HEADER_BYTES - COMPACT_HEADER_BYTES;
const FULL_FLAG = 0x8000_0000;
const LENGTH_MASK = 0x3fff_ffff;

/** A record as stored: its value plus the metadata the log gave it. */
export interface LogRecord {
  readonly offset: number;
  /** Raft term that wrote the record; 0 on a single node. */
  readonly term: number;
  /** Creation time in milliseconds since the epoch; non-decreasing along the log. */
  readonly timestampMs: number;
  /** 0 for user data; Raft marks its own entries with other values. */
  readonly type: number;
  readonly value: Buffer;
}

function readU64(frames: Buffer, at: number): number {
  return frames.readUInt32LE(at) + frames.readUInt32LE(at + 4) * 0x1_0000_0000;
}

/** Bytes that encoding `count` values of `valueBytes` in all as one run takes. */
export function encodedBytes(count: number, valueBytes: number): number {
  return REHEAD_GROWTH_BYTES + count * COMPACT_HEADER_BYTES + valueBytes;
}

/**
 * Splits verified frames starting at `firstOffset` into records whose values share the frames'
 * memory, appended to `records`. Reads walk each frame here once: the addon already verified them
 * and counted them, so nothing else in JavaScript parses a header.
 */
export function decodeFrames(frames: Buffer, firstOffset: number, records: LogRecord[] = []): LogRecord[] {
  assert.ok(frames.length === 0 || (frames.readUInt32LE(4) & FULL_FLAG) !== 0, "a buffer of frames starts with a full frame");
  let term = 0;
  let timestampMs = 0;
  let type = 0;
  for (let at = 0, offset = firstOffset; at < frames.length; offset++) {
    const word = frames.readUInt32LE(at + 4);
    let valueStart = at + COMPACT_HEADER_BYTES;
    if ((word & FULL_FLAG) !== 0) {
      term = readU64(frames, at + 8);
      timestampMs = readU64(frames, at + 16);
      type = frames.readUInt32LE(at + 24);
      valueStart = at + FULL_HEADER_BYTES;
    }
    const valueEnd = valueStart + (word & LENGTH_MASK);
    assert.ok(valueEnd <= frames.length, "frame runs past its buffer");
    records.push({ offset, term, timestampMs, type, value: frames.subarray(valueStart, valueEnd) });
    at = valueEnd;
  }
  return records;
}
