// The binary encoding of one Raft message, version 1 of the transport. Little-endian throughout; every
// u64 is written as two u32 halves (low first) and must hold a non-negative safe integer.
//
//   u8  type tag (see typeTags)
//   u64 from, to, term, logTerm, index, commit, rejectHint
//   u8  flags: 1 reject, 2 transfer, 4 snapshot present; other bits must be 0
//   snapshot, if present: u64 index, u64 term, u32 voter count, u64 voters..., u32 learner count, u64 learners...
//   u32 entry count, then per entry: u64 index, u64 term, u32 type, u64 timestampMs (0: absent),
//       u32 data length, data bytes
//
// A buffer holds exactly one message: bytes after it are an error, so that a corrupt length is noticed.
import assert from "node:assert/strict";
import { EntryType, MessageType, type Entry, type Membership, type Message, type SnapshotPoint } from "../raft/index.ts";
import { CodecError } from "./transport-errors.ts";

/**
 * An entry as the codec sees it: `timestampMs` (creation time in ms since the epoch) is carried when
 * present and non-zero. The intersection stays correct once `Entry` declares the field itself.
 */
type TimedEntry = Entry & { readonly timestampMs?: number };

/** Wire tags. Part of the protocol: never renumber; a new type takes a new tag. */
const typeTags: Readonly<Record<MessageType, number>> = {
  [MessageType.Append]: 1,
  [MessageType.AppendResponse]: 2,
  [MessageType.Heartbeat]: 3,
  [MessageType.HeartbeatResponse]: 4,
  [MessageType.Vote]: 5,
  [MessageType.VoteResponse]: 6,
  [MessageType.PreVote]: 7,
  [MessageType.PreVoteResponse]: 8,
  [MessageType.Snapshot]: 9,
  [MessageType.TimeoutNow]: 10,
};
const typesByTag: ReadonlyMap<number, MessageType> = new Map(
  Object.entries(typeTags).map(([type, tag]) => [tag, type as MessageType]),
);
const entryTypes: ReadonlySet<number> = new Set(Object.values(EntryType));

const FLAG_REJECT = 1;
const FLAG_TRANSFER = 2;
const FLAG_SNAPSHOT = 4;
const FLAGS_KNOWN = FLAG_REJECT | FLAG_TRANSFER | FLAG_SNAPSHOT;

/** Type tag, seven u64 fields, flags and the entry count. */
export const MESSAGE_HEADER_BYTES = 1 + 7 * 8 + 1 + 4;
/** Index, term, type, timestamp and data length. */
export const ENTRY_HEADER_BYTES = 8 + 8 + 4 + 8 + 4;
/** Index, term and the two id counts, before the ids themselves. */
const SNAPSHOT_HEADER_BYTES = 8 + 8 + 4 + 4;
const UINT32_LIMIT = 0x1_0000_0000;
/** The high half of a u64 above this is beyond Number.MAX_SAFE_INTEGER (2^53 - 1). */
const SAFE_HIGH_MAX = 0x1f_ffff;

/** The exact number of bytes `encodeMessage(m)` returns. */
export function encodedMessageBytes(m: Message): number {
  let bytes = MESSAGE_HEADER_BYTES;
  if (m.snapshot !== null) {
    const { voters, learners } = m.snapshot.membership;
    bytes += SNAPSHOT_HEADER_BYTES + 8 * (voters.length + learners.length);
  }
  for (const entry of m.entries) bytes += ENTRY_HEADER_BYTES + entry.data.length;
  return bytes;
}

/** Encodes `m` into a new buffer of exactly `encodedMessageBytes(m)` bytes. */
export function encodeMessage(m: Message): Buffer {
  const target = Buffer.allocUnsafe(encodedMessageBytes(m));
  const end = writeMessage(m, target, 0);
  assert.equal(end, target.length, "encoded length disagrees with encodedMessageBytes");
  return target;
}

/**
 * Writes `m` into `target` at `offset` and returns the offset after it. The caller sized `target` with
 * `encodedMessageBytes`. A field that is not a non-negative safe integer, or an entry type Raft does not
 * define, is a programmer error (an assertion), not bad input.
 */
export function writeMessage(m: Message, target: Buffer, offset: number): number {
  const tag = typeTags[m.type];
  assert.ok(tag !== undefined, "unknown message type");
  let at = target.writeUInt8(tag, offset);
  for (const value of [m.from, m.to, m.term, m.logTerm, m.index, m.commit, m.rejectHint]) {
    at = writeU64(target, at, value);
  }
  const flags = (m.reject ? FLAG_REJECT : 0) | (m.transfer ? FLAG_TRANSFER : 0) | (m.snapshot !== null ? FLAG_SNAPSHOT : 0);
  at = target.writeUInt8(flags, at);
  if (m.snapshot !== null) at = writeSnapshot(m.snapshot, target, at);
  at = target.writeUInt32LE(m.entries.length, at);
  for (const entry of m.entries) at = writeEntry(entry, target, at);
  return at;
}

function writeSnapshot(snapshot: SnapshotPoint, target: Buffer, offset: number): number {
  let at = writeU64(target, offset, snapshot.index);
  at = writeU64(target, at, snapshot.term);
  at = writeIds(snapshot.membership.voters, target, at);
  return writeIds(snapshot.membership.learners, target, at);
}

function writeIds(ids: readonly number[], target: Buffer, offset: number): number {
  let at = target.writeUInt32LE(ids.length, offset);
  for (const id of ids) at = writeU64(target, at, id);
  return at;
}

function writeEntry(entry: TimedEntry, target: Buffer, offset: number): number {
  if (!entryTypes.has(entry.type)) assert.fail(`unknown entry type ${entry.type}`);
  let at = writeU64(target, offset, entry.index);
  at = writeU64(target, at, entry.term);
  at = target.writeUInt32LE(entry.type, at);
  at = writeU64(target, at, entry.timestampMs ?? 0);
  at = target.writeUInt32LE(entry.data.length, at);
  target.set(entry.data, at);
  return at + entry.data.length;
}

function writeU64(target: Buffer, offset: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) assert.fail(`not a non-negative safe integer: ${value}`);
  target.writeUInt32LE(value % UINT32_LIMIT, offset);
  return target.writeUInt32LE(Math.floor(value / UINT32_LIMIT), offset + 4);
}

/**
 * Decodes one message occupying all of `bytes`. Entry data are views into `bytes` (no copy): the caller
 * must not modify `bytes` while the message is in use. Throws `CodecError` for anything that is not an
 * exact encoding: truncation, trailing bytes, unknown tags, types or flags, u64 values beyond 2^53 - 1.
 */
export function decodeMessage(bytes: Uint8Array): Message {
  const reader = new Reader(bytes);
  const tag = reader.u8();
  const type = typesByTag.get(tag);
  if (type === undefined) throw new CodecError("unknown-message-type", `tag ${tag}`);
  const from = reader.u64();
  const to = reader.u64();
  const term = reader.u64();
  const logTerm = reader.u64();
  const index = reader.u64();
  const commit = reader.u64();
  const rejectHint = reader.u64();
  const flags = reader.u8();
  if ((flags & ~FLAGS_KNOWN) !== 0) throw new CodecError("unknown-flags", `flags 0x${flags.toString(16)}`);
  const snapshot = (flags & FLAG_SNAPSHOT) !== 0 ? readSnapshot(reader) : null;
  const entries = readEntries(reader);
  reader.expectEnd();
  const reject = (flags & FLAG_REJECT) !== 0;
  const transfer = (flags & FLAG_TRANSFER) !== 0;
  return { type, from, to, term, logTerm, index, entries, commit, reject, rejectHint, snapshot, transfer };
}

function readSnapshot(reader: Reader): SnapshotPoint {
  const index = reader.u64();
  const term = reader.u64();
  const voters = readIds(reader);
  const learners = readIds(reader);
  const membership: Membership = { voters, learners };
  return { index, term, membership };
}

function readIds(reader: Reader): number[] {
  const count = reader.u32();
  // Checked before allocating, so that a corrupt count cannot make us build a huge array.
  reader.requireRemaining(count * 8);
  const ids = new Array<number>(count);
  for (let i = 0; i < count; i++) ids[i] = reader.u64();
  return ids;
}

function readEntries(reader: Reader): Entry[] {
  const count = reader.u32();
  reader.requireRemaining(count * ENTRY_HEADER_BYTES);
  const entries = new Array<Entry>(count);
  for (let i = 0; i < count; i++) entries[i] = readEntry(reader);
  return entries;
}

function readEntry(reader: Reader): TimedEntry {
  const index = reader.u64();
  const term = reader.u64();
  const type = reader.u32();
  if (!entryTypes.has(type)) throw new CodecError("unknown-entry-type", `entry type ${type}`);
  const timestampMs = reader.u64();
  const data = reader.view(reader.u32());
  if (timestampMs === 0) return { index, term, type: type as EntryType, data };
  return { index, term, type: type as EntryType, data, timestampMs };
}

/** A bounds-checked cursor over the input; every read past the end throws a CodecError. */
class Reader {
  private readonly view_: DataView;
  private offset = 0;

  constructor(private readonly bytes: Uint8Array) {
    this.view_ = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  requireRemaining(count: number): void {
    const remaining = this.bytes.length - this.offset;
    if (count > remaining) {
      throw new CodecError("truncated", `need ${count} bytes at offset ${this.offset}, have ${remaining}`);
    }
  }

  u8(): number {
    this.requireRemaining(1);
    return this.view_.getUint8(this.offset++);
  }

  u32(): number {
    this.requireRemaining(4);
    const value = this.view_.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  u64(): number {
    this.requireRemaining(8);
    const low = this.view_.getUint32(this.offset, true);
    const high = this.view_.getUint32(this.offset + 4, true);
    if (high > SAFE_HIGH_MAX) throw new CodecError("unsafe-integer", `u64 at offset ${this.offset} exceeds 2^53 - 1`);
    this.offset += 8;
    return high * UINT32_LIMIT + low;
  }

  /** The next `length` bytes as a view sharing the input's memory. */
  view(length: number): Uint8Array {
    this.requireRemaining(length);
    const view = new Uint8Array(this.bytes.buffer, this.bytes.byteOffset + this.offset, length);
    this.offset += length;
    return view;
  }

  expectEnd(): void {
    const remaining = this.bytes.length - this.offset;
    if (remaining !== 0) throw new CodecError("trailing-bytes", `${remaining} bytes after the message`);
  }
}
