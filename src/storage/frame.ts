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

export interface RunMetadata {
  readonly term: number;
  readonly timestampMs: number;
  readonly type: number;
}

export interface FrameHeader {
  readonly full: boolean;
  readonly valueBytes: number;
  /** Header plus value. */
  readonly bytes: number;
  /** Present on full frames only. */
  readonly metadata: RunMetadata | undefined;
}

function readU64(frames: Buffer, at: number): number {
  return frames.readUInt32LE(at) + frames.readUInt32LE(at + 4) * 0x1_0000_0000;
}

export function readFrameHeader(frames: Buffer, at: number): FrameHeader {
  const word = frames.readUInt32LE(at + 4);
  const full = (word & FULL_FLAG) !== 0;
  const valueBytes = word & LENGTH_MASK;
  const metadata = full
    ? { term: readU64(frames, at + 8), timestampMs: readU64(frames, at + 16), type: frames.readUInt32LE(at + 24) }
    : undefined;
  return { full, valueBytes, bytes: (full ? FULL_HEADER_BYTES : COMPACT_HEADER_BYTES) + valueBytes, metadata };
}

/** Bytes that encoding `count` values of `valueBytes` in all as one run takes. */
export function encodedBytes(count: number, valueBytes: number): number {
  return REHEAD_GROWTH_BYTES + count * COMPACT_HEADER_BYTES + valueBytes;
}

/** Splits verified frames starting at `firstOffset` into records whose values share the frames' memory. */
export function decodeFrames(frames: Buffer, firstOffset: number): LogRecord[] {
  const records: LogRecord[] = [];
  let metadata: RunMetadata | undefined;
  for (let at = 0, offset = firstOffset; at < frames.length; offset++) {
    const header = readFrameHeader(frames, at);
    metadata = header.metadata ?? metadata;
    assert.ok(metadata !== undefined, "a buffer of frames starts with a full frame");
    assert.ok(at + header.bytes <= frames.length, "frame runs past its buffer");
    records.push({ offset, ...metadata, value: frames.subarray(at + header.bytes - header.valueBytes, at + header.bytes) });
    at += header.bytes;
  }
  return records;
}

/** The number of frames in a buffer, and the metadata of its last run. */
export function scanFrames(frames: Buffer): { count: number; lastRun: RunMetadata | undefined } {
  let count = 0;
  let lastRun: RunMetadata | undefined;
  for (let at = 0; at < frames.length; count++) {
    const header = readFrameHeader(frames, at);
    lastRun = header.metadata ?? lastRun;
    at += header.bytes;
  }
  return { count, lastRun };
}
