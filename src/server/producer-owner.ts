// Whose an idempotent producer is. On a node with an ACL every produce is made as a principal, and
// a producer belongs to it: the batch mark holds a tag of the principal's name before the producer
// id (src/storage/batch-mark.ts), so that a principal cannot append under another principal's
// producer id, nor have its batches refused as SEQUENCE_REUSED by one that picked the same id. The
// tag is the first 8 bytes (little-endian) of a SHA-256 of "loghouse producer owner", a zero byte
// and the name: short and fixed in size. It is no secret: a name that can be guessed can be
// checked against it.
import { createHash } from "node:crypto";
import type { ProducerBatch } from "../storage/index.ts";

/** Tags already worked out, by principal; cleared when full (principals are few: certificates and tokens). */
const tags = new Map<string, bigint>();
const TAGS_KEPT = 1_024;

/** The 64-bit tag of `principal` (never 0, which is the anonymous owner). */
export function ownerTag(principal: string): bigint {
  let tag = tags.get(principal);
  if (tag !== undefined) return tag;
  tag = createHash("sha256").update("loghouse producer owner\0").update(principal).digest().readBigUInt64LE(0) || 1n;
  if (tags.size >= TAGS_KEPT) tags.clear();
  tags.set(principal, tag);
  return tag;
}

/**
 * The bounds of a node's producers' table: with an ACL every stored id begins with its owner's tag,
 * and a full table is shared out by owner (ownedIds, src/storage/producer-sequences.ts).
 */
export function producerTableFor<T extends object>(producers: T, security: { readonly acl?: unknown }): T & { readonly ownedIds: boolean } {
  return { ...producers, ownedIds: security.acl !== undefined };
}

/** `producer` as sent by `principal` (undefined: anonymous, as sent). */
export function ownedBy(producer: ProducerBatch, principal: string | undefined): ProducerBatch {
  if (principal === undefined) return producer;
  return { producerId: producer.producerId, sequence: producer.sequence, owner: ownerTag(principal) };
}
