import { assert } from "./assert.ts";
import { EntryChunks } from "./entry-chunks.ts";
import type { Entry, SnapshotPoint } from "./types.ts";

/**
 * The tail of the log that is not yet known to be persisted: a snapshot point to install and/or entries
 * from `offset` on. Entries below `offset` are in storage. A driver works on one `Ready` at a time, so
 * `inProgressOffset` marks how far entries have been handed out for persisting.
 *
 * The entries are kept as the arrays they were appended in (a proposal's, an append message's; see
 * entry-chunks.ts), which the tail takes over: no one may change them afterwards. As one array, every
 * entry still held was copied at each append, hand-out and acknowledgement, and the array was large
 * enough to live in the old generation, so each pointer copied to a young entry also paid the
 * collector's write barrier: about 300 ns per entry on a busy node, now a few.
 */
export class Unstable {
  snapshot: SnapshotPoint | null = null;
  snapshotInProgress = false;
  /** The index of the first entry held; one past the last index known to be persisted. */
  offset: number;
  /** Entries with indexes below this have been handed out in a Ready (or are stable). */
  inProgressOffset: number;
  /** The entries, in the arrays they came in; the first array may begin with entries already stable, below `offset`. */
  private readonly chunks = new EntryChunks();

  constructor(offset: number) {
    assert(offset >= 1, `unstable offset must be positive, got ${offset}`);
    this.offset = offset;
    this.inProgressOffset = offset;
  }

  /** One past the last index held. */
  get endIndex(): number {
    return this.chunks.endIndex ?? this.offset;
  }

  /** How many entries are held, from `offset` on. */
  get length(): number {
    return this.endIndex - this.offset;
  }

  /** The term at `index` if this tail knows it. */
  maybeTerm(index: number): number | undefined {
    if (index >= this.offset) return index < this.endIndex ? this.chunks.entryAt(index).term : undefined;
    if (this.snapshot !== null && index === this.snapshot.index) return this.snapshot.term;
    return undefined;
  }

  /** The last index if this tail holds entries or a snapshot. */
  maybeLastIndex(): number | undefined {
    if (this.length > 0) return this.endIndex - 1;
    if (this.snapshot !== null) return this.snapshot.index;
    return undefined;
  }

  /** Appends entries (taking over the array), first dropping any entry at or after the first new index. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = (entries[0] as Entry).index;
    const end = this.endIndex;
    assert(first <= end, `unstable append at ${first} leaves a gap after ${end - 1}`);
    if (first <= this.offset) {
      // The whole tail is replaced; entries below first that were stable stay stable.
      this.chunks.clear();
      this.offset = first;
    } else if (first < end) {
      this.chunks.truncateFrom(first);
    }
    this.chunks.push(entries);
    this.inProgressOffset = Math.min(this.inProgressOffset, first);
    assert(this.inProgressOffset >= this.offset, "in-progress offset below offset");
  }

  /** The entries not yet handed out in a Ready. */
  entriesToPersist(): readonly Entry[] {
    return this.inProgressOffset < this.endIndex ? this.slice(this.inProgressOffset, this.endIndex) : [];
  }

  /** Records that everything currently in this tail has been handed out for persisting. */
  acceptInProgress(): void {
    this.inProgressOffset = this.endIndex;
    if (this.snapshot !== null) this.snapshotInProgress = true;
  }

  /**
   * Marks entries through `index` stable if the entry there still has `term` (it may have been
   * replaced while the write was in flight, in which case nothing changes).
   */
  stableTo(index: number, term: number): void {
    if (index < this.offset) return;
    if (this.maybeTerm(index) !== term) return;
    this.chunks.dropThrough(index);
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
    this.chunks.clear();
    this.offset = snapshot.index + 1;
    this.inProgressOffset = this.offset;
  }

  /**
   * Entries with indexes [low, high), all of which must be in this tail, cut after the last that fits
   * `bytesMax` (at least one). The answer may be an array this tail holds: it must not be changed.
   */
  slice(low: number, high: number, bytesMax = Number.MAX_SAFE_INTEGER): readonly Entry[] {
    assert(low >= this.offset, `unstable slice low ${low} below offset ${this.offset}`);
    assert(high <= this.endIndex, `unstable slice high ${high} beyond tail`);
    return low >= high ? [] : this.chunks.slice(low, high, bytesMax);
  }
}
