import { assert } from "./assert.ts";
import type { Entry, SnapshotPoint } from "./types.ts";

/**
 * The tail of the log that is not yet known to be persisted: a snapshot point to install and/or entries
 * from `offset` on. Entries below `offset` are in storage. A driver works on one `Ready` at a time, so
 * `inProgressOffset` marks how far entries have been handed out for persisting.
 */
export class Unstable {
  snapshot: SnapshotPoint | null = null;
  snapshotInProgress = false;
  entries: Entry[] = [];
  /** The index of entries[0]; one past the last index known to be persisted. */
  offset: number;
  /** Entries with indexes below this have been handed out in a Ready (or are stable). */
  inProgressOffset: number;

  constructor(offset: number) {
    assert(offset >= 1, `unstable offset must be positive, got ${offset}`);
    this.offset = offset;
    this.inProgressOffset = offset;
  }

  /** The term at `index` if this tail knows it. */
  maybeTerm(index: number): number | undefined {
    if (index >= this.offset) {
      const entry = this.entries[index - this.offset];
      return entry === undefined ? undefined : entry.term;
    }
    if (this.snapshot !== null && index === this.snapshot.index) return this.snapshot.term;
    return undefined;
  }

  /** The last index if this tail holds entries or a snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    if (this.snapshot !== null) return this.snapshot.index;
    return undefined;
  }

  /** Appends entries, first dropping any entry at or after the first new index. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = (entries[0] as Entry).index;
    const end = this.offset + this.entries.length;
    assert(first <= end, `unstable append at ${first} leaves a gap after ${end - 1}`);
    if (first === end) {
      for (const entry of entries) this.entries.push(entry);
      return;
    }
    if (first <= this.offset) {
      // The whole tail is replaced; entries below first that were stable stay stable.
      this.offset = first;
      this.entries = entries.slice();
    } else {
      this.entries = this.entries.slice(0, first - this.offset).concat(entries);
    }
    this.inProgressOffset = Math.min(this.inProgressOffset, first);
    assert(this.inProgressOffset >= this.offset, "in-progress offset below offset");
  }

  /** The entries not yet handed out in a Ready. */
  entriesToPersist(): Entry[] {
    if (this.inProgressOffset >= this.offset + this.entries.length) return [];
    return this.entries.slice(this.inProgressOffset - this.offset);
  }

  /** Records that everything currently in this tail has been handed out for persisting. */
  acceptInProgress(): void {
    this.inProgressOffset = this.offset + this.entries.length;
    if (this.snapshot !== null) this.snapshotInProgress = true;
  }

  /**
   * Marks entries through `index` stable if the entry there still has `term` (it may have been
   * replaced while the write was in flight, in which case nothing changes).
   */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    if (this.maybeTerm(index) !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
    this.inProgressOffset = Math.max(this.inProgressOffset, this.offset);
  }

  /** Marks the pending snapshot installed if it is the one at `index`. */
  stableSnapshotTo(index: number): void {
    if (this.snapshot !== null && this.snapshot.index === index) {
      this.snapshot = null;
      this.snapshotInProgress = false;
    }
  }

  /** Replaces everything with a snapshot to install; the log restarts after it. */
  restore(snapshot: SnapshotPoint): void {
    this.snapshot = snapshot;
    this.snapshotInProgress = false;
    this.entries = [];
    this.offset = snapshot.index + 1;
    this.inProgressOffset = this.offset;
  }

  /** Entries with indexes [low, high), all of which must be in this tail. */
  slice(low: number, high: number): Entry[] {
    assert(low >= this.offset, `unstable slice low ${low} below offset ${this.offset}`);
    assert(high <= this.offset + this.entries.length, `unstable slice high ${high} beyond tail`);
    return this.entries.slice(low - this.offset, high - this.offset);
  }
}
