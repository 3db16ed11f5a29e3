import { assert } from "./assert.ts";
import type { Membership } from "./types.ts";

/** Single-server membership changes (thesis §4.1); learners catch up before they vote (§4.2.1). */
export const MembershipChangeKind = {
  AddLearner: 1,
  PromoteLearner: 2,
  RemoveNode: 3,
} as const;
export type MembershipChangeKind = (typeof MembershipChangeKind)[keyof typeof MembershipChangeKind];

export interface MembershipChange {
  readonly kind: MembershipChangeKind;
  readonly nodeId: number;
  /**
   * Where the node listens (host:port), carried with the change so every member learns it from the
   * log; opaque to the core. Empty when not given.
   */
  readonly address?: string;
}

const fixedBytes = 9;
const addressBytesMax = 1024;

/** Votes a configuration of `voters` voters needs for a decision: a majority. */
export function quorumOf(voters: number): number {
  return Math.floor(voters / 2) + 1;
}

/**
 * Encodes a change as the data of a Membership entry: kind (u8), node id (u64, big endian), then the
 * address in UTF-8 (possibly empty).
 */
export function encodeMembershipChange(change: MembershipChange): Uint8Array {
  assert(Number.isSafeInteger(change.nodeId) && change.nodeId > 0, `bad node id ${change.nodeId}`);
  const address = new TextEncoder().encode(change.address ?? "");
  assert(address.length <= addressBytesMax, `address longer than ${addressBytesMax} bytes`);
  const bytes = new Uint8Array(fixedBytes + address.length);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, change.kind);
  view.setBigUint64(1, BigInt(change.nodeId));
  bytes.set(address, fixedBytes);
  return bytes;
}

/** Decodes what `encodeMembershipChange` wrote; malformed data is a broken invariant (it was committed). */
export function decodeMembershipChange(data: Uint8Array): MembershipChange {
  assert(data.length >= fixedBytes && data.length <= fixedBytes + addressBytesMax, `membership change of ${data.length} bytes`);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const kind = view.getUint8(0);
  assert(kind >= 1 && kind <= 3, `unknown membership change kind ${kind}`);
  const nodeId = Number(view.getBigUint64(1));
  assert(Number.isSafeInteger(nodeId) && nodeId > 0, `bad node id ${nodeId}`);
  const change = { kind: kind as MembershipChangeKind, nodeId };
  return data.length === fixedBytes ? change : { ...change, address: new TextDecoder().decode(data.subarray(fixedBytes)) };
}

/**
 * The membership after `change`, or a reason why the change does not apply to `membership`.
 * Removing the last voter is refused: a cluster without voters can never commit again.
 */
export function applyMembershipChange(membership: Membership, change: MembershipChange): Membership | string {
  const id = change.nodeId;
  const isVoter = membership.voters.includes(id);
  const isLearner = membership.learners.includes(id);
  switch (change.kind) {
    case MembershipChangeKind.AddLearner:
      if (isVoter || isLearner) return `node ${id} is already a member`;
      return { voters: membership.voters, learners: sorted([...membership.learners, id]) };
    case MembershipChangeKind.PromoteLearner:
      if (!isLearner) return `node ${id} is not a learner`;
      return { voters: sorted([...membership.voters, id]), learners: membership.learners.filter((n) => n !== id) };
    case MembershipChangeKind.RemoveNode:
      if (!isVoter && !isLearner) return `node ${id} is not a member`;
      if (isVoter && membership.voters.length === 1) return `node ${id} is the last voter`;
      return { voters: membership.voters.filter((n) => n !== id), learners: membership.learners.filter((n) => n !== id) };
  }
}

function sorted(ids: number[]): number[] {
  return ids.sort((a, b) => a - b);
}

export function describeMembershipChange(change: MembershipChange): string {
  const names = { 1: "add-learner", 2: "promote", 3: "remove" } as const;
  return `${names[change.kind]} ${change.nodeId}`;
}
