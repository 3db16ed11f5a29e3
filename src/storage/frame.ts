// Decoding of stored frames in JavaScript; the layout is defined in native/frame.h. Frames reach
// JavaScript only after the addon verified their checksums, so decoding trusts them.
import assert from "node:assert/strict";

export const FRAME_HEADER_BYTES = 40;

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

/** Splits verified frames into records whose values share the frames' memory (no copy). */
export function decodeFrames(frames: Buffer): LogRecord[] {
  const records: LogRecord[] = [];
  let at = 0;
  while (at < frames.length) {
    const valueBytes = frames.readUInt32LE(at + 4);
    const end = at + FRAME_HEADER_BYTES + valueBytes;
    assert.ok(end <= frames.length, "frame runs past its buffer");
    records.push({
      offset: readU64(frames, at + 8),
      term: readU64(frames, at + 16),
      timestampMs: readU64(frames, at + 24),
      type: frames.readUInt32LE(at + 32),
      value: frames.subarray(at + FRAME_HEADER_BYTES, end),
    });
    at = end;
  }
  return records;
}

/** The largest timestamp among verified frames (0 for none). */
export function latestTimestamp(frames: Buffer): number {
  let at = 0;
  let latest = 0;
  while (at < frames.length) {
    latest = Math.max(latest, readU64(frames, at + 24));
    at += FRAME_HEADER_BYTES + frames.readUInt32LE(at + 4);
  }
  return latest;
}
