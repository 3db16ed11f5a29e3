// The record an idempotent producer's batch starts with in the log: how many records the batch has
// (they are the records just after the mark), which producer sent it, and its number. It is
// written with the batch, in the same append or Raft proposal, and the batch commits whole with
// it: the Raft core never commits up to an index inside a mark's span and a new leader drops a
// span its log lacks the end of (src/raft, BatchMark); a single node cuts a span torn off at the
// end of its log when it opens it (log-producers.ts). Consumers see the mark as a record of type
// BATCH_MARK_TYPE (user data is type 0).
//
// Layout (little-endian): u32 record count (>= 1; the Raft core reads it as the span), u8 version,
// u8 producer id length n (1..64), n bytes producer id, u64 sequence; version 2 then has a u64
// owner. Version 1 is an anonymous producer's (a node without an ACL); version 2 names the
// principal that sent the batch, by a tag of its name (server/producer-owner.ts), so that producers
// of different principals never share a producer id, and each principal's are counted apart.
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../errors.ts";

/** The record type of a batch mark (the Raft entry type BatchMark has the same number). */
export const BATCH_MARK_TYPE = 3;
/** Longest producer id, in bytes. */
export const PRODUCER_ID_BYTES_MAX = 64;

const ANONYMOUS_VERSION = 1;
const OWNED_VERSION = 2;
const FIXED_BYTES = 4 + 1 + 1 + 8;
const OWNER_BYTES = 8;
const U64_MAX = (1n << 64n) - 1n;

/** An idempotent producer's batch: who sent it and its number. */
export interface ProducerBatch {
  readonly producerId: Uint8Array;
  readonly sequence: bigint;
  /** The tag of the principal that sent it (absent or 0: anonymous). A producer is its owner and its id together. */
  readonly owner?: bigint | undefined;
}

export interface BatchMark extends ProducerBatch {
  /** Records in the batch (the records just after the mark). */
  readonly count: number;
}

/** Throws InvalidArgumentError unless `batch` names a producer and a sequence the log can keep. */
export function checkProducerBatch(batch: ProducerBatch): void {
  const length = batch.producerId.length;
  if (length === 0 || length > PRODUCER_ID_BYTES_MAX) {
    throw new InvalidArgumentError(`a producer id has 1 to ${PRODUCER_ID_BYTES_MAX} bytes, got ${length}`);
  }
  if (batch.sequence < 0n || batch.sequence > U64_MAX) throw new InvalidArgumentError(`a producer sequence is a u64, got ${batch.sequence}`);
  assert.ok(batch.owner === undefined || (batch.owner >= 0n && batch.owner <= U64_MAX), "a producer's owner is a u64 tag");
}

export function encodeBatchMark(mark: BatchMark): Uint8Array {
  checkProducerBatch(mark);
  assert.ok(Number.isSafeInteger(mark.count) && mark.count >= 1 && mark.count <= 0xffff_ffff, "a batch mark counts 1 to 2^32-1 records");
  const owned = (mark.owner ?? 0n) !== 0n;
  const bytes = Buffer.alloc(FIXED_BYTES + mark.producerId.length + (owned ? OWNER_BYTES : 0));
  let at = bytes.writeUInt32LE(mark.count, 0);
  at = bytes.writeUInt8(owned ? OWNED_VERSION : ANONYMOUS_VERSION, at);
  at = bytes.writeUInt8(mark.producerId.length, at);
  bytes.set(mark.producerId, at);
  at += mark.producerId.length;
  at = bytes.writeBigUInt64LE(mark.sequence, at);
  if (owned) at = bytes.writeBigUInt64LE(mark.owner!, at);
  assert.equal(at, bytes.length, "batch mark size");
  return bytes;
}

/**
 * The mark in a record of type BATCH_MARK_TYPE. The log's checksums vouch for the bytes, so a mark
 * that does not parse was written by a broken writer: an assertion, not an operating error.
 */
export function decodeBatchMark(data: Uint8Array): BatchMark {
  const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  assert.ok(bytes.length >= FIXED_BYTES + 1, "a batch mark holds its fixed fields");
  const count = bytes.readUInt32LE(0);
  assert.ok(count >= 1, "a batch mark counts at least one record");
  const version = bytes.readUInt8(4);
  assert.ok(version === ANONYMOUS_VERSION || version === OWNED_VERSION, "batch mark version");
  const idLength = bytes.readUInt8(5);
  const owned = version === OWNED_VERSION;
  assert.equal(bytes.length, FIXED_BYTES + idLength + (owned ? OWNER_BYTES : 0), "a batch mark's length matches its producer id");
  const producerId = new Uint8Array(bytes.subarray(6, 6 + idLength));
  const sequence = bytes.readBigUInt64LE(6 + idLength);
  if (!owned) return { producerId, sequence, count };
  return { producerId, sequence, count, owner: bytes.readBigUInt64LE(FIXED_BYTES + idLength) };
}
