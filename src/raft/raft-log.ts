import { assert, assertNatural } from "./assert.ts";
import { limitByBytes } from "./memory-storage.ts";
import type { Storage } from "./storage.ts";
import type { Entry, SnapshotPoint } from "./types.ts";
import { Unstable } from "./unstable.ts";

/**
 * A node's view of its log: the persisted part (read through `Storage`) followed by the unstable tail,
 * plus the commit and apply positions. Invariant: applied <= applying <= committed <= lastIndex.
 */
export class RaftLog {
  readonly storage: Storage;
  readonly unstable: Unstable;
  /** The highest index known to be committed. */
  committed: number;
  /** The highest index handed to the application in a Ready. */
  applying: number;
  /** The highest index the application has acknowledged applying (through advance). */
  applied: number;

  constructor(storage: Storage) {
    this.storage = storage;
    this.unstable = new Unstable(storage.lastIndex() + 1);
    const start = storage.firstIndex() - 1;
    // A commit index that was not synced may lag the snapshot point; the snapshot itself is committed.
    this.committed = Math.max(storage.hardState().commit, start);
    assert(this.committed <= storage.lastIndex(), `commit ${this.committed} beyond last index ${storage.lastIndex()}`);
    this.applying = start;
    this.applied = start;
  }

  firstIndex(): number {
    const snapshot = this.unstable.snapshot;
    return snapshot !== null ? snapshot.index + 1 : this.storage.firstIndex();
  }

  lastIndex(): number {
    const last = this.unstable.maybeLastIndex();
    return last !== undefined ? last : this.storage.lastIndex();
  }

  /** The term at `index` for index in [firstIndex - 1, lastIndex], else undefined (compacted or absent). */
  term(index: number): number | undefined {
    if (index < this.firstIndex() - 1 || index > this.lastIndex()) return undefined;
    const term = this.unstable.maybeTerm(index);
    if (term !== undefined) return term;
    return this.storage.term(index);
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, "the last entry has no term");
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Whether a log ending at (lastIndex, lastTerm) is at least as up to date as this one (§5.4.1). */
  isUpToDate(lastIndex: number, lastTerm: number): boolean {
    const myTerm = this.lastTerm();
    return lastTerm > myTerm || (lastTerm === myTerm && lastIndex >= this.lastIndex());
  }

  /** The index one past the last entry known to be persisted (entries below it are durable). */
  persistedLastIndex(): number {
    assert(this.unstable.snapshot === null, "persisted index asked while a snapshot is pending");
    return this.unstable.offset - 1;
  }

  /**
   * Follower side of AppendEntries (§5.3): if the entry at prevIndex has prevTerm, append `entries`
   * (truncating a conflicting suffix) and advance the commit index; returns the last index the message
   * covers, or -1 when the previous entry does not match.
   */
  maybeAppend(prevIndex: number, prevTerm: number, commit: number, entries: readonly Entry[]): number {
    if (!this.matchTerm(prevIndex, prevTerm)) return -1;
    const lastNew = prevIndex + entries.length;
    const conflict = this.findConflict(entries);
    if (conflict !== 0) {
      assert(conflict > this.committed, `conflict at ${conflict} with committed entry (commit ${this.committed})`);
      // A new array only when part of the message is already here: the unstable tail takes it over.
      this.append(conflict === prevIndex + 1 ? entries : entries.slice(conflict - prevIndex - 1));
    }
    this.commitTo(Math.min(commit, lastNew));
    return lastNew;
  }

  /** Appends entries after (possibly truncating) the log; returns the new last index. */
  append(entries: readonly Entry[]): number {
    if (entries.length === 0) return this.lastIndex();
    const first = (entries[0] as Entry).index;
    assert(first > this.committed, `append at ${first} would overwrite committed ${this.committed}`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  /** The index of the first entry whose term differs from (or is missing in) this log, or 0. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term`, with that term (0 when compacted): the best
   * guess of where a log whose entry at `index` has `term` could match this one.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let i = Math.min(index, this.lastIndex());
    for (;;) {
      const t = this.term(i);
      if (t === undefined) return { index: i, term: 0 };
      if (t <= term) return { index: i, term: t };
      i--;
    }
  }

  /** Entries [low, high) within `bytesMax` (at least one); low >= firstIndex, high <= lastIndex + 1. */
  slice(low: number, high: number, bytesMax: number): readonly Entry[] {
    assert(low >= this.firstIndex(), `slice low ${low} below first index ${this.firstIndex()}`);
    assert(high <= this.lastIndex() + 1, `slice high ${high} beyond last index ${this.lastIndex()}`);
    if (low >= high) return [];
    const offset = this.unstable.offset;
    if (high <= offset) return this.storage.entries(low, high, bytesMax);
    if (low >= offset) return this.unstable.slice(low, high, bytesMax);
    const stored = this.storage.entries(low, offset, bytesMax);
    if (stored.length < offset - low) return stored;
    const all = stored.concat(this.unstable.slice(offset, high));
    all.length = limitByBytes(all, 0, all.length, bytesMax);
    return all;
  }

  /** Every entry in [low, high), however many calls to the storage that takes (it may answer in parts). */
  allEntries(low: number, high: number): Entry[] {
    const all: Entry[] = [];
    for (let at = low; at < high; ) {
      const part = this.slice(at, high, Number.MAX_SAFE_INTEGER);
      for (const entry of part) all.push(entry);
      at += part.length;
    }
    return all;
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} beyond last index ${this.lastIndex()}`);
    this.committed = index;
  }

  /** Committed entries not yet handed to the application, within `bytesMax` (at least one). */
  nextCommittedEntries(bytesMax: number): readonly Entry[] {
    const low = this.applying + 1;
    const high = Math.min(this.committed, this.lastIndex()) + 1;
    if (low >= high) return [];
    return this.slice(low, high, bytesMax);
  }

  hasNextCommittedEntries(): boolean {
    return this.applying < this.committed && this.unstable.snapshot === null;
  }

  /** Records that entries through `index` were handed to the application. */
  applyingTo(index: number): void {
    assert(index <= this.committed, `applying ${index} beyond commit ${this.committed}`);
    this.applying = Math.max(this.applying, index);
  }

  appliedTo(index: number): void {
    assertNatural(index, "applied index");
    assert(index <= this.applying, `applied ${index} beyond applying ${this.applying}`);
    this.applied = Math.max(this.applied, index);
  }

  /** Restarts the log at a snapshot point received from the leader (§7). */
  restore(snapshot: SnapshotPoint): void {
    assert(snapshot.index > this.committed, `snapshot ${snapshot.index} not beyond commit ${this.committed}`);
    this.unstable.restore(snapshot);
    this.committed = snapshot.index;
    this.applying = snapshot.index;
  }
}
