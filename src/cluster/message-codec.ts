// The binary encoding of one Raft message, version 2 of the transport. Little-endian throughout; every
// u64 is written as two u32 halves (low first) and must hold a non-negative safe integer.
//
//   u8  type tag (see typeTags)
//   u64 from, to, term, logTerm, index, commit, rejectHint
//   u8  flags: 1 reject, 2 transfer, 4 snapshot present; other bits must be 0
//   snapshot, if present: u64 index, u64 term, u32 voter count, u64 voters..., u32 learner count, u64 learners...
//   u32 entry count, then the entries block: runs of entries sharing term, type and timestamp, each
//       u32 run length n (>= 1), u64 term, u32 type, u64 timestampMs (0: absent),
//       n x u32 data length, then the n data back to back
//
// Entries are consecutive: the first has index `index + 1` (an Append's entries follow the entry it
// names), so indexes are not sent. Runs are maximal (two adjacent runs never share term, type and
// timestamp), which keeps the encoding canonical. A run costs 24 bytes and an entry 4 beyond its data,
// so a batch of small records costs little more than its bytes, and the entries block does not
// depend on the receiver: a leader encodes it once for all followers (`encodeEntries`).
//
// Repair messages (peer-message.ts) take their own tags and layouts after the type tag:
//
//   11 repair request:   u64 from, to, low, high       (offsets [low, high), low < high)
//   12 repair response:  u64 from, to, low; u32 n; n bytes of stored frames (n = 0: none to give)
//
// Forward messages (append-forwarding.ts) likewise; text is ASCII but for the error message (UTF-8):
//
//   13 forward request:  u64 from, to, id; u32 timeoutMs; u16 n, n bytes of traceparent;
//                        u32 count (>= 1); count x u32 value length; the values back to back
//   14 forward response: u64 from, to, id, firstOffset, leaderId; u8 rpcCode; u8 n, n bytes of code;
//                        u16 n, n bytes of message
//   15 forward cancel:   u64 from, to, id
//
// A buffer holds exactly one message: bytes after it are an error, so that a corrupt length is noticed.
import assert from "node:assert/strict";
import { EntryType, MessageType, type Entry, type Membership, type Message, type SnapshotPoint } from "../raft/index.ts";
import { sameRun } from "./entry-run.ts";
import type { ForwardMessage, ForwardRequest, ForwardResponse, PeerMessage, RepairMessage } from "./peer-message.ts";
import { CodecError } from "./transport-errors.ts";

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
const REPAIR_REQUEST_TAG = 11;
const REPAIR_RESPONSE_TAG = 12;
/** Tag and four u64 fields. */
const REPAIR_REQUEST_BYTES = 1 + 4 * 8;
/** Tag, three u64 fields and the frames' length. */
const REPAIR_RESPONSE_HEAD_BYTES = 1 + 3 * 8 + 4;
const FORWARD_REQUEST_TAG = 13;
const FORWARD_RESPONSE_TAG = 14;
const FORWARD_CANCEL_TAG = 15;
/** Tag, three u64 fields, the timeout, the traceparent's length and the value count. */
const FORWARD_REQUEST_HEAD_BYTES = 1 + 3 * 8 + 4 + 2 + 4;
/** Tag, five u64 fields, the gRPC code, and the lengths of code and message. */
const FORWARD_RESPONSE_HEAD_BYTES = 1 + 5 * 8 + 1 + 1 + 2;
const FORWARD_CANCEL_BYTES = 1 + 3 * 8;
/** An error message longer than this is cut (it is for people, and the answer stays small). */
const FORWARD_MESSAGE_CHARS_MAX = 1024;

const FLAG_REJECT = 1;
const FLAG_TRANSFER = 2;
const FLAG_SNAPSHOT = 4;
const FLAGS_KNOWN = FLAG_REJECT | FLAG_TRANSFER | FLAG_SNAPSHOT;

/** Type tag, seven u64 fields, flags and the entry count. */
export const MESSAGE_HEADER_BYTES = 1 + 7 * 8 + 1 + 4;
/** Run length, term, type and timestamp. */
const RUN_HEADER_BYTES = 4 + 8 + 4 + 8;
/** The data length. */
const ENTRY_LENGTH_BYTES = 4;
/** Index, term and the two id counts, before the ids themselves. */
const SNAPSHOT_HEADER_BYTES = 8 + 8 + 4 + 4;
const UINT32_LIMIT = 0x1_0000_0000;
/** The high half of a u64 above this is beyond Number.MAX_SAFE_INTEGER (2^53 - 1). */
const SAFE_HIGH_MAX = 0x1f_ffff;

/** The bytes of `m` before its entries block: the header, the snapshot and the entry count. */
export function encodedHeadBytes(m: Message): number {
  if (m.snapshot === null) return MESSAGE_HEADER_BYTES;
  const { voters, learners } = m.snapshot.membership;
  return MESSAGE_HEADER_BYTES + SNAPSHOT_HEADER_BYTES + 8 * (voters.length + learners.length);
}

/** The exact number of bytes `encodeEntries(entries)` returns. */
export function encodedEntriesBytes(entries: readonly Entry[]): number {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (i === 0 || !sameRun(entries[i - 1]!, entry)) bytes += RUN_HEADER_BYTES;
    bytes += ENTRY_LENGTH_BYTES + entry.data.length;
  }
  return bytes;
}

/** The exact number of bytes `encodeMessage(m)` returns. */
export function encodedMessageBytes(m: Message): number {
  return encodedHeadBytes(m) + encodedEntriesBytes(m.entries);
}

/** Encodes `m` into a new buffer of exactly `encodedMessageBytes(m)` bytes. */
export function encodeMessage(m: Message): Buffer {
  const entries = encodeEntries(m.entries);
  const target = Buffer.allocUnsafe(encodedHeadBytes(m) + entries.length);
  const end = writeHead(m, target, 0);
  target.set(entries, end);
  assert.equal(end + entries.length, target.length, "encoded length disagrees with encodedMessageBytes");
  return target;
}

/**
 * Writes everything of `m` before its entries block into `target` at `offset` (sized with
 * `encodedHeadBytes`) and returns the offset after it; the entries block (`encodeEntries`) follows.
 * A field that is not a non-negative safe integer, or entries that do not follow `m.index` one by one,
 * are programmer errors (assertions), not bad input.
 */
export function writeHead(m: Message, target: Buffer, offset: number): number {
  const tag = typeTags[m.type];
  assert.ok(tag !== undefined, "unknown message type");
  let at = target.writeUInt8(tag, offset);
  for (const value of [m.from, m.to, m.term, m.logTerm, m.index, m.commit, m.rejectHint]) {
    at = writeU64(target, at, value);
  }
  const flags = (m.reject ? FLAG_REJECT : 0) | (m.transfer ? FLAG_TRANSFER : 0) | (m.snapshot !== null ? FLAG_SNAPSHOT : 0);
  at = target.writeUInt8(flags, at);
  if (m.snapshot !== null) at = writeSnapshot(m.snapshot, target, at);
  const count = m.entries.length;
  if (count > 0) {
    assert.ok(m.entries[0]!.index === m.index + 1 && m.entries[count - 1]!.index === m.index + count, "entries follow the message's index one by one");
  }
  return target.writeUInt32LE(count, at);
}

/** The entries block of a message carrying `entries` (see the format above). */
export function encodeEntries(entries: readonly Entry[]): Buffer {
  const target = Buffer.allocUnsafe(encodedEntriesBytes(entries));
  let at = 0;
  for (let start = 0; start < entries.length; ) {
    const first = entries[start]!;
    if (!entryTypes.has(first.type)) assert.fail(`unknown entry type ${first.type}`);
    let end = start + 1;
    while (end < entries.length && sameRun(first, entries[end]!)) end++;
    at = target.writeUInt32LE(end - start, at);
    at = writeU64(target, at, first.term);
    at = target.writeUInt32LE(first.type, at);
    at = writeU64(target, at, first.timestampMs ?? 0);
    for (let i = start; i < end; i++) at = target.writeUInt32LE(entries[i]!.data.length, at);
    for (let i = start; i < end; i++) {
      const data = entries[i]!.data;
      target.set(data, at);
      at += data.length;
    }
    start = end;
  }
  assert.equal(at, target.length, "entries encoded to a different size than computed");
  return target;
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

function writeU64(target: Buffer, offset: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0) assert.fail(`not a non-negative safe integer: ${value}`);
  target.writeUInt32LE(value % UINT32_LIMIT, offset);
  return target.writeUInt32LE(Math.floor(value / UINT32_LIMIT), offset + 4);
}

/** The exact number of bytes `encodeRepairMessage(m)` returns. */
export function encodedRepairMessageBytes(m: RepairMessage): number {
  return m.type === "repair-request" ? REPAIR_REQUEST_BYTES : REPAIR_RESPONSE_HEAD_BYTES + m.frames.length;
}

/** Encodes a repair message (see the format above); a low that is not below high is a programmer error. */
export function encodeRepairMessage(m: RepairMessage): Buffer {
  const target = Buffer.allocUnsafe(encodedRepairMessageBytes(m));
  let at = target.writeUInt8(m.type === "repair-request" ? REPAIR_REQUEST_TAG : REPAIR_RESPONSE_TAG, 0);
  for (const value of [m.from, m.to, m.low]) at = writeU64(target, at, value);
  if (m.type === "repair-request") {
    assert.ok(m.low < m.high, "a repair request asks for at least one record");
    at = writeU64(target, at, m.high);
  } else {
    at = target.writeUInt32LE(m.frames.length, at);
    target.set(m.frames, at);
    at += m.frames.length;
  }
  assert.equal(at, target.length, "repair message encoded to a different size than computed");
  return target;
}

/** The exact number of bytes `encodeForwardMessage(m)` returns. */
export function encodedForwardMessageBytes(m: ForwardMessage): number {
  switch (m.type) {
    case "forward-request": {
      let valueBytes = 0;
      for (const value of m.values) valueBytes += 4 + value.length;
      return FORWARD_REQUEST_HEAD_BYTES + m.traceparent.length + valueBytes;
    }
    case "forward-response":
      return FORWARD_RESPONSE_HEAD_BYTES + m.code.length + Buffer.byteLength(forwardMessageText(m));
    case "forward-cancel":
      return FORWARD_CANCEL_BYTES;
  }
}

function forwardMessageText(m: ForwardResponse): string {
  return m.message.slice(0, FORWARD_MESSAGE_CHARS_MAX);
}

/**
 * Encodes a forward message (see the format above). A request's values are copied once, into the
 * frame; one without values, or text that does not fit its length field, is a programmer error.
 */
export function encodeForwardMessage(m: ForwardMessage): Buffer {
  const target = Buffer.allocUnsafe(encodedForwardMessageBytes(m));
  const tag = m.type === "forward-request" ? FORWARD_REQUEST_TAG : m.type === "forward-response" ? FORWARD_RESPONSE_TAG : FORWARD_CANCEL_TAG;
  let at = target.writeUInt8(tag, 0);
  for (const value of [m.from, m.to, m.id]) at = writeU64(target, at, value);
  if (m.type === "forward-request") at = writeForwardRequest(m, target, at);
  else if (m.type === "forward-response") {
    for (const value of [m.firstOffset, m.leaderId]) at = writeU64(target, at, value);
    at = target.writeUInt8(m.rpcCode, at);
    assert.ok(m.code.length <= 0xff, "an error code fits a u8 length");
    at = target.writeUInt8(m.code.length, at);
    at += target.write(m.code, at, "latin1");
    const text = forwardMessageText(m);
    at = target.writeUInt16LE(Buffer.byteLength(text), at);
    at += target.write(text, at, "utf8");
  }
  assert.equal(at, target.length, "forward message encoded to a different size than computed");
  return target;
}

function writeForwardRequest(m: ForwardRequest, target: Buffer, offset: number): number {
  assert.ok(m.values.length > 0, "a forward carries at least one record");
  assert.ok(m.traceparent.length <= 0xffff, "a traceparent fits a u16 length");
  let at = target.writeUInt32LE(m.timeoutMs, offset);
  at = target.writeUInt16LE(m.traceparent.length, at);
  at += target.write(m.traceparent, at, "latin1");
  at = target.writeUInt32LE(m.values.length, at);
  for (const value of m.values) at = target.writeUInt32LE(value.length, at);
  for (const value of m.values) {
    target.set(value, at);
    at += value.length;
  }
  return at;
}

/**
 * Decodes one message occupying all of `bytes`. Entry data and repair frames are views into `bytes`
 * (no copy): the caller must not modify `bytes` while the message is in use. Throws `CodecError` for
 * anything that is not an exact encoding: truncation, trailing bytes, unknown tags, types or flags,
 * u64 values beyond 2^53 - 1, an empty repair range.
 */
export function decodeMessage(bytes: Uint8Array): PeerMessage {
  const reader = new Reader(bytes);
  const tag = reader.u8();
  if (tag === REPAIR_REQUEST_TAG || tag === REPAIR_RESPONSE_TAG) return readRepairMessage(reader, tag);
  if (tag === FORWARD_REQUEST_TAG || tag === FORWARD_RESPONSE_TAG || tag === FORWARD_CANCEL_TAG) return readForwardMessage(reader, tag);
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
  const entries = readEntries(reader, index);
  reader.expectEnd();
  const reject = (flags & FLAG_REJECT) !== 0;
  const transfer = (flags & FLAG_TRANSFER) !== 0;
  return { type, from, to, term, logTerm, index, entries, commit, reject, rejectHint, snapshot, transfer };
}

function readRepairMessage(reader: Reader, tag: number): RepairMessage {
  const from = reader.u64();
  const to = reader.u64();
  const low = reader.u64();
  let message: RepairMessage;
  if (tag === REPAIR_REQUEST_TAG) {
    const high = reader.u64();
    if (high <= low) throw new CodecError("bad-range", `repair range [${low}, ${high}) is empty`);
    message = { type: "repair-request", from, to, low, high };
  } else {
    const frames = reader.view(reader.u32());
    message = { type: "repair-response", from, to, low, frames };
  }
  reader.expectEnd();
  return message;
}

function readForwardMessage(reader: Reader, tag: number): ForwardMessage {
  const from = reader.u64();
  const to = reader.u64();
  const id = reader.u64();
  let message: ForwardMessage;
  if (tag === FORWARD_REQUEST_TAG) {
    const timeoutMs = reader.u32();
    const traceparent = Buffer.from(reader.view(reader.u16())).toString("latin1");
    const count = reader.u32();
    if (count === 0) throw new CodecError("bad-forward", "a forward request without records");
    const lengths = reader.u32s(count);
    const values = lengths.map((length) => reader.view(length));
    message = { type: "forward-request", from, to, id, timeoutMs, traceparent, values };
  } else if (tag === FORWARD_RESPONSE_TAG) {
    const firstOffset = reader.u64();
    const leaderId = reader.u64();
    const rpcCode = reader.u8();
    const code = Buffer.from(reader.view(reader.u8())).toString("latin1");
    const text = readUtf8(reader.view(reader.u16()));
    if (text.length > FORWARD_MESSAGE_CHARS_MAX) throw new CodecError("bad-forward", `an error message of ${text.length} characters`);
    message = { type: "forward-response", from, to, id, firstOffset, leaderId, rpcCode, code, message: text };
  } else {
    message = { type: "forward-cancel", from, to, id };
  }
  reader.expectEnd();
  return message;
}

const strictUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function readUtf8(bytes: Uint8Array): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new CodecError("bad-forward", "an error message that is not UTF-8");
  }
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

function readEntries(reader: Reader, previousIndex: number): Entry[] {
  const count = reader.u32();
  if (count === 0) return [];
  // Checked before allocating, so that a corrupt count cannot make us build a huge array.
  reader.requireRemaining(RUN_HEADER_BYTES + count * ENTRY_LENGTH_BYTES);
  if (previousIndex + count > Number.MAX_SAFE_INTEGER) throw new CodecError("unsafe-integer", `entry indexes beyond 2^53 - 1`);
  const entries = new Array<Entry>(count);
  let previous: Entry | undefined;
  for (let filled = 0; filled < count; ) {
    const length = reader.u32();
    if (length === 0 || length > count - filled) throw new CodecError("bad-run", `run of ${length} entries with ${count - filled} left`);
    const term = reader.u64();
    const type = reader.u32();
    if (!entryTypes.has(type)) throw new CodecError("unknown-entry-type", `entry type ${type}`);
    const stamp = reader.u64();
    const timestampMs = stamp === 0 ? undefined : stamp;
    const lengths = reader.u32s(length);
    let dataBytes = 0;
    for (let i = 0; i < length; i++) dataBytes += lengths[i]!;
    const data = reader.view(dataBytes);
    // Plain views, not Buffer.subarray: a quarter of the cost per entry (17 against 72 ns here),
    // and their byteOffset reads three times faster where the log measures them.
    for (let i = 0, at = data.byteOffset; i < length; i++) {
      const entry: Entry = { index: previousIndex + filled + 1, term, type: type as EntryType, data: new Uint8Array(data.buffer, at, lengths[i]!), timestampMs };
      entries[filled++] = entry;
      at += lengths[i]!;
    }
    if (previous !== undefined && sameRun(previous, entries[filled - length]!)) throw new CodecError("bad-run", "adjacent runs share term, type and timestamp");
    previous = entries[filled - 1];
  }
  return entries;
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

  u16(): number {
    this.requireRemaining(2);
    const value = this.view_.getUint16(this.offset, true);
    this.offset += 2;
    return value;
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

  /** The next `count` u32 values. */
  u32s(count: number): number[] {
    this.requireRemaining(count * 4);
    const values = new Array<number>(count);
    for (let i = 0; i < count; i++) values[i] = this.view_.getUint32(this.offset + 4 * i, true);
    this.offset += count * 4;
    return values;
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
