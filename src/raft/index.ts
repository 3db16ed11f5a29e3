/** The Raft core's public surface: a pure, deterministic state machine and its storage contract. */
export { AssertionError, assert } from "./assert.ts";
export { defaultRaftLimits, validateConfig, type RaftConfig } from "./config.ts";
export { describeEntry, describeMessage, describeReady } from "./describe.ts";
export { EntryChunks } from "./entry-chunks.ts";
export { MemoryStorage } from "./memory-storage.ts";
export {
  applyMembershipChange,
  decodeMembershipChange,
  encodeMembershipChange,
  MembershipChangeKind,
  type MembershipChange,
} from "./membership.ts";
export { message, MessageType, type Message } from "./message.ts";
export { ProposeRejection, type ProposeResult } from "./propose-result.ts";
export { SeededRandom, type RandomSource } from "./random.ts";
export type { Ready, SoftState } from "./ready.ts";
export { RawNode, type Status } from "./raw-node.ts";
export type { Storage } from "./storage.ts";
export {
  EntryType,
  Role,
  emptyHardState,
  emptyMembership,
  entryBytes,
  type Entry,
  type HardState,
  type Membership,
  type SnapshotPoint,
} from "./types.ts";
