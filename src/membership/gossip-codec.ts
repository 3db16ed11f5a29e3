// The binary encoding of one gossip message (one UDP datagram's payload, before encryption).
// Little-endian; a string is a u8 byte length and that many bytes of UTF-8.
//
//   u8 version (1), u8 type tag
//   ping 1:      u32 seq, str target
//   ping-req 2:  u32 seq, str target, str address
//   ack 3, nack 4: u32 seq
//   gossip 5:    (nothing)
//   then, for tags 1-5: u8 update count, the updates, each
//       u8 kind (1 alive, 2 suspect, 3 dead, 4 left), str name, u32 incarnation,
//       alive: str address, str role; suspect, dead: str from; left: (nothing)
//   sync 6:      u8 flags (1: reply wanted; other bits 0), u8 record count, the records, each
//       u8 state (1 alive, 2 suspect, 3 dead, 4 left), str name, u32 incarnation, str address, str role
//
// Decoding is strict and total: a datagram that is too long, truncated, has bytes left over, an unknown
// tag or flag, a string over its limit or invalid UTF-8 is reported as a reason, never thrown, so that
// no input from the network reaches an assertion.
import assert from "node:assert/strict";
import type { MemberState } from "./member.ts";
import { ADDRESS_BYTES_MAX, NAME_BYTES_MAX, ROLE_BYTES_MAX } from "./member.ts";
import type { GossipMessage, MemberRecord, Update } from "./gossip-message.ts";

const VERSION = 1;
/** Wire tags. Part of the protocol: never renumber. */
const typeTags = { ping: 1, "ping-req": 2, ack: 3, nack: 4, gossip: 5, sync: 6 } as const;
const kindTags = { alive: 1, suspect: 2, dead: 3, left: 4 } as const;
const stateTags: Readonly<Record<MemberState, number>> = { alive: 1, suspect: 2, dead: 3, left: 4 };
const statesByTag: readonly MemberState[] = ["alive", "alive", "suspect", "dead", "left"];
const FLAG_REPLY_WANTED = 1;
/** A u8 count: no message carries more updates or records. */
export const ITEMS_PER_MESSAGE_MAX = 255;
const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Why a datagram was dropped. */
export type DecodeFailure = "tooLarge" | "truncated" | "trailingBytes" | "badVersion" | "badTag" | "badString";
export type DecodeResult = { readonly ok: true; readonly message: GossipMessage } | { readonly ok: false; readonly reason: DecodeFailure };

function stringBytes(value: string): number {
  return 1 + Buffer.byteLength(value, "utf8");
}

/** The bytes of a message of this type before its updates or records (count byte included). */
export function encodedHeadBytes(message: GossipMessage): number {
  switch (message.type) {
    case "ping":
      return 2 + 4 + stringBytes(message.target) + 1;
    case "ping-req":
      return 2 + 4 + stringBytes(message.target) + stringBytes(message.address) + 1;
    case "ack":
    case "nack":
      return 2 + 4 + 1;
    case "gossip":
      return 2 + 1;
    case "sync":
      return 2 + 1 + 1;
  }
}

export function encodedUpdateBytes(update: Update): number {
  const head = 1 + stringBytes(update.name) + 4;
  if (update.kind === "alive") return head + stringBytes(update.address) + stringBytes(update.role);
  if (update.kind === "left") return head;
  return head + stringBytes(update.from);
}

export function encodedRecordBytes(record: MemberRecord): number {
  return 1 + stringBytes(record.name) + 4 + stringBytes(record.address) + stringBytes(record.role);
}

export function encodedBytes(message: GossipMessage): number {
  if (message.type === "sync") return message.members.reduce((sum, r) => sum + encodedRecordBytes(r), encodedHeadBytes(message));
  return message.updates.reduce((sum, u) => sum + encodedUpdateBytes(u), encodedHeadBytes(message));
}

/** Encodes `message`, which the caller has kept within `bytesMax` and ITEMS_PER_MESSAGE_MAX items. */
export function encodeGossip(message: GossipMessage, bytesMax: number): Buffer {
  const bytes = encodedBytes(message);
  assert(bytes <= bytesMax, `gossip message of ${bytes} bytes exceeds ${bytesMax}`);
  const out = Buffer.alloc(bytes);
  const w = new Writer(out);
  w.u8(VERSION);
  w.u8(typeTags[message.type]);
  if (message.type === "sync") {
    assert(message.members.length <= ITEMS_PER_MESSAGE_MAX, "too many records");
    w.u8(message.replyWanted ? FLAG_REPLY_WANTED : 0);
    w.u8(message.members.length);
    for (const r of message.members) {
      w.u8(stateTags[r.state]);
      w.str(r.name, NAME_BYTES_MAX).u32(r.incarnation).str(r.address, ADDRESS_BYTES_MAX).str(r.role, ROLE_BYTES_MAX);
    }
  } else {
    if (message.type !== "gossip") w.u32(message.seq);
    if (message.type === "ping" || message.type === "ping-req") w.str(message.target, NAME_BYTES_MAX);
    if (message.type === "ping-req") w.str(message.address, ADDRESS_BYTES_MAX);
    assert(message.updates.length <= ITEMS_PER_MESSAGE_MAX, "too many updates");
    w.u8(message.updates.length);
    for (const u of message.updates) writeUpdate(w, u);
  }
  assert(w.offset === bytes, `encoded ${w.offset} bytes, expected ${bytes}`);
  return out;
}

function writeUpdate(w: Writer, u: Update): void {
  w.u8(kindTags[u.kind]);
  w.str(u.name, NAME_BYTES_MAX).u32(u.incarnation);
  if (u.kind === "alive") w.str(u.address, ADDRESS_BYTES_MAX).str(u.role, ROLE_BYTES_MAX);
  else if (u.kind !== "left") w.str(u.from, NAME_BYTES_MAX);
}

/** Decodes one datagram of at most `bytesMax` bytes; never throws. */
export function decodeGossip(bytes: Uint8Array, bytesMax: number): DecodeResult {
  if (bytes.length > bytesMax) return { ok: false, reason: "tooLarge" };
  const r = new Reader(bytes);
  try {
    const message = readMessage(r);
    if (r.offset !== bytes.length) return { ok: false, reason: "trailingBytes" };
    return { ok: true, message };
  } catch (error) {
    if (error instanceof Malformed) return { ok: false, reason: error.reason };
    throw error;
  }
}

function readMessage(r: Reader): GossipMessage {
  if (r.u8() !== VERSION) throw new Malformed("badVersion");
  const tag = r.u8();
  if (tag === typeTags.sync) {
    const flags = r.u8();
    if ((flags & ~FLAG_REPLY_WANTED) !== 0) throw new Malformed("badTag");
    const members: MemberRecord[] = [];
    for (let n = r.u8(); n > 0; n--) members.push(readRecord(r));
    return { type: "sync", replyWanted: flags === FLAG_REPLY_WANTED, members };
  }
  if (tag < typeTags.ping || tag > typeTags.gossip) throw new Malformed("badTag");
  const seq = tag === typeTags.gossip ? 0 : r.u32();
  const target = tag === typeTags.ping || tag === typeTags["ping-req"] ? r.str(NAME_BYTES_MAX) : "";
  const address = tag === typeTags["ping-req"] ? r.str(ADDRESS_BYTES_MAX) : "";
  const updates: Update[] = [];
  for (let n = r.u8(); n > 0; n--) updates.push(readUpdate(r));
  switch (tag) {
    case typeTags.ping:
      return { type: "ping", seq, target, updates };
    case typeTags["ping-req"]:
      return { type: "ping-req", seq, target, address, updates };
    case typeTags.ack:
      return { type: "ack", seq, updates };
    case typeTags.nack:
      return { type: "nack", seq, updates };
    default:
      return { type: "gossip", updates };
  }
}

function readUpdate(r: Reader): Update {
  const kind = r.u8();
  const name = r.str(NAME_BYTES_MAX);
  const incarnation = r.u32();
  switch (kind) {
    case kindTags.alive:
      return { kind: "alive", name, incarnation, address: r.str(ADDRESS_BYTES_MAX), role: r.str(ROLE_BYTES_MAX, true) };
    case kindTags.suspect:
      return { kind: "suspect", name, incarnation, from: r.str(NAME_BYTES_MAX) };
    case kindTags.dead:
      return { kind: "dead", name, incarnation, from: r.str(NAME_BYTES_MAX) };
    case kindTags.left:
      return { kind: "left", name, incarnation };
    default:
      throw new Malformed("badTag");
  }
}

function readRecord(r: Reader): MemberRecord {
  const tag = r.u8();
  const state = statesByTag[tag];
  if (tag === 0 || state === undefined) throw new Malformed("badTag");
  const name = r.str(NAME_BYTES_MAX);
  const incarnation = r.u32();
  return { state, name, incarnation, address: r.str(ADDRESS_BYTES_MAX), role: r.str(ROLE_BYTES_MAX, true) };
}

class Malformed extends Error {
  constructor(readonly reason: DecodeFailure) {
    super(reason);
  }
}

class Writer {
  offset = 0;
  constructor(private readonly out: Buffer) {}

  u8(value: number): this {
    this.offset = this.out.writeUInt8(value, this.offset);
    return this;
  }

  u32(value: number): this {
    this.offset = this.out.writeUInt32LE(value, this.offset);
    return this;
  }

  str(value: string, bytesMax: number): this {
    const length = Buffer.byteLength(value, "utf8");
    assert(length <= bytesMax, `string of ${length} bytes exceeds ${bytesMax}`);
    this.u8(length);
    this.offset += this.out.write(value, this.offset, "utf8");
    return this;
  }
}

class Reader {
  offset = 0;
  private readonly view: DataView;
  constructor(private readonly bytes: Uint8Array) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  private need(count: number): void {
    if (this.offset + count > this.bytes.length) throw new Malformed("truncated");
  }

  u8(): number {
    this.need(1);
    return this.view.getUint8(this.offset++);
  }

  u32(): number {
    this.need(4);
    const value = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return value;
  }

  /** A string of at most `bytesMax` bytes; empty only where `emptyAllowed` (a role). */
  str(bytesMax: number, emptyAllowed = false): string {
    const length = this.u8();
    if (length > bytesMax) throw new Malformed("badString");
    if (length === 0 && !emptyAllowed) throw new Malformed("badString");
    this.need(length);
    let value: string;
    try {
      value = utf8.decode(this.bytes.subarray(this.offset, this.offset + length));
    } catch {
      throw new Malformed("badString");
    }
    this.offset += length;
    return value;
  }
}
