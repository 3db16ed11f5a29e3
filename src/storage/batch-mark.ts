// The record an idempotent producer's batch starts with in the log: how many records the batch has
// (they are the records just after the mark), which producer sent it, and its number. It is
// written with the batch, in the same append or Raft proposal, and the batch commits whole with
// it: the Raft core never commits up to an index inside a mark's span and a new leader drops a
// span its log lacks the end of (src/raft, BatchMark); a single node cuts a span torn off at the
// end of its log when it opens it (log-producers.ts). Consumers see the mark as a record of type
// BATCH_MARK_TYPE (user data is type 0).
//
// Layout (little-endian): u32 record count (>= 1; the Raft core reads it as the span), u8 version
// (1), u8 producer id length n (1..72), n bytes producer id, u64 sequence. The id is the one the
// producer sent (1..64 bytes), after its owner's 8-byte tag when it has one (on a node with an ACL,
// the principal that sent it: server/producer-owner.ts). The tag goes inside the id rather than in
// a field of its own so that nodes of earlier releases, which read only this layout, keep reading
// the marks of a cluster upgraded one node at a time.
import assert from "node:assert/strict";
import { InvalidArgumentError } from "../errors.ts";

/** The record type of a batch mark (the Raft entry type BatchMark has the same number). */
export const BATCH_MARK_TYPE = 3;
/** Longest producer id, in bytes. */
export const PRODUCER_ID_BYTES_MAX = 64;

const VERSION = 1;
const FIXED_BYTES = 4 + 1 + 1 + 8;
const OWNER_TAG_BYTES = 8;
const U64_MAX = (1n << 64n) - 1n;

/** An idempotent producer's batch: who sent it and its number. */
export interface ProducerBatch {
  /** The id the producer sent; read from a mark, the id as stored (see storedProducerId). */
  readonly producerId: Uint8Array;
  readonly sequence: bigint;
  /** The tag of the principal that sent it (absent: anonymous). A producer is its owner and its id together. */
  readonly owner?: bigint | undefined;
}

/** The producer's id as a mark stores it: its owner's tag (u64, little-endian) then its id, or the id alone. */
export function storedProducerId(batch: ProducerBatch): Uint8Array {
  if (batch.owner === undefined) return batch.producerId;
  const stored = Buffer.allocUnsafe(OWNER_TAG_BYTES + batch.producerId.length);
  stored.writeBigUInt64LE(batch.owner, 0);
  stored.set(batch.producerId, OWNER_TAG_BYTES);
  return stored;
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
  const producerId = storedProducerId(mark);
  const bytes = Buffer.alloc(FIXED_BYTES + producerId.length);
  let at = bytes.writeUInt32LE(mark.count, 0);
  at = bytes.writeUInt8(VERSION, at);
  at = bytes.writeUInt8(producerId.length, at);
  bytes.set(producerId, at);
  at += producerId.length;
  at = bytes.writeBigUInt64LE(mark.sequence, at);
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
  assert.equal(bytes.readUInt8(4), VERSION, "batch mark version");
  const idLength = bytes.readUInt8(5);
  assert.equal(bytes.length, FIXED_BYTES + idLength, "a batch mark's length matches its producer id");
  const producerId = new Uint8Array(bytes.subarray(6, 6 + idLength));
  const sequence = bytes.readBigUInt64LE(6 + idLength);
  return { producerId, sequence, count };
}
