/**
 * Plain data shared by the Raft core, its storage and its drivers.
 *
 * Indexes and terms are safe integers. Index 0 and term 0 mean "before the first entry". Node ids are
 * positive safe integers; 0 means "no node" (no vote, no known leader).
 */

/** What an entry carries. Kept numeric (u32) so it can be stored as a record's type. */
export const EntryType = {
  /** Application data, opaque to Raft. */
  Normal: 0,
  /** The empty entry a new leader appends so that it can commit entries of earlier terms. */
  NoOp: 1,
  /** A single-server membership change, encoded by `membership.ts`. */
  Membership: 2,
  /**
   * The driver's note about the normal entries just after it (the idempotent producer's id and
   * batch number), proposed with them. Its data begins with a u32 (little-endian): how many normal
   * entries follow it in its proposal, its span. The rest is opaque to the core, which commits the
   * mark and its span together or neither (see Raft.propose).
   */
  BatchMark: 3,
} as const;
export type EntryType = (typeof EntryType)[keyof typeof EntryType];

/**
 * One log entry. Immutable once created: the core and its drivers share entry objects without copying.
 * In Loghouse the index is the record offset and term and type are stored with the record.
 */
export interface Entry {
  readonly index: number;
  readonly term: number;
  readonly type: EntryType;
  readonly data: Uint8Array;
  /**
   * Creation time (ms since the epoch) stamped by the driver that first stored the entry, so every
   * replica stores the same time; opaque to the core, which passes it through untouched.
   */
  readonly timestampMs?: number | undefined;
}

/** The state that must survive a crash before any message that depends on it is sent. */
export interface HardState {
  readonly term: number;
  /** The node voted for in `term`, or 0. */
  readonly vote: number;
  /** The highest index known to be committed. Losing it in a crash is safe, so it alone needs no fsync. */
  readonly commit: number;
}

/** The voters and learners of a configuration; disjoint sets, sorted ascending. */
export interface Membership {
  readonly voters: readonly number[];
  readonly learners: readonly number[];
}

/**
 * A snapshot is a start point: the log before `index` is gone, the entry at `index` had `term`, and
 * `membership` was the configuration in force once `index` was applied.
 */
export interface SnapshotPoint {
  readonly index: number;
  readonly term: number;
  readonly membership: Membership;
}

export const Role = {
  Follower: "follower",
  PreCandidate: "pre-candidate",
  Candidate: "candidate",
  Leader: "leader",
} as const;
export type Role = (typeof Role)[keyof typeof Role];

export const emptyHardState: HardState = { term: 0, vote: 0, commit: 0 };
export const emptyMembership: Membership = { voters: [], learners: [] };

/** Bytes an entry is accounted as in message and in-flight limits (payload plus a fixed header). */
export function entryBytes(entry: Entry): number {
  return entry.data.length + entryHeaderBytes;
}

/** The fixed per-entry overhead counted by `entryBytes` (index, term, type, length). */
export const entryHeaderBytes = 24;

export function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
