// The most recently written Raft entries, kept in memory in front of the data log. Nearly every read
// the Raft core makes is of entries just written: the committed entries a node applies, and the
// entries a leader sends a follower that is a little behind. Serving those from here saves decoding
// the records back from the store (and the garbage of doing so) on every node for every record.
//
// It mirrors a suffix of the log exactly (term, type, creation time and data, as stored): the replica
// adds entries once they are written, cuts it where the log is truncated and clears it when the log
// is reset. Bounded by the entries' size as the core counts it (data plus a fixed overhead, so empty
// records count too); the oldest chunks go first, and a read below what is kept goes to the log.
// Entries not yet applied here are kept past that bound, up to a second, larger one: a follower that
// fell behind (paused, or slow for a while) gets more than the bound in one go, and dropping what it
// has yet to apply made it read every entry back from its log to apply it, which kept it behind
// (after a follower was stopped for a second under batch load, it read back from its log for the
// rest of a 5-second run, at 2.5 times its CPU per record).
import assert from "node:assert/strict";
import { EntryChunks, type Entry } from "../raft/index.ts";

export class RecentEntries {
  /** The entries kept, in the arrays they were added in. */
  private readonly chunks = new EntryChunks();
  /** The last index applied here (noteApplied). */
  private appliedIndex = 0;

  /** Keeps up to `bytesMax` of entries, and up to `unappliedBytesMax` while the oldest are not yet applied. */
  constructor(
    private readonly bytesMax: number,
    private readonly unappliedBytesMax = bytesMax,
  ) {
    assert.ok(Number.isSafeInteger(bytesMax) && bytesMax >= 0, "bytesMax must be a natural number");
    assert.ok(Number.isSafeInteger(unappliedBytesMax) && unappliedBytesMax >= bytesMax, "unappliedBytesMax must be a natural number, at least bytesMax");
  }

  /** Index of the first entry kept, or undefined when nothing is. */
  get firstIndex(): number | undefined {
    return this.chunks.firstIndex;
  }

  /** Keeps `entries` (taking over the array: no one may change it), just written after everything kept (else what is kept is dropped first). */
  add(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    if (this.chunks.endIndex !== entries[0]!.index) this.chunks.clear();
    this.chunks.push(entries);
    this.trim();
  }

  /** Notes that entries through `index` are applied here: past the first bound, those are the ones dropped. */
  noteApplied(index: number): void {
    this.appliedIndex = Math.max(this.appliedIndex, index);
  }

  /** Forgets entries at `index` and after (the log was truncated there). */
  truncateFrom(index: number): void {
    this.chunks.truncateFrom(index);
    this.trim();
  }

  clear(): void {
    this.chunks.clear();
  }

  /**
   * Drops the oldest chunks whose entries are all at or below `index`: entries no read is expected
   * to want again (applied here, and on a leader held by every follower). Kept longer, each would
   * outlive a young-generation collection or two and be copied by each (see the replica's apply).
   */
  forgetThrough(index: number): void {
    this.chunks.dropThrough(index);
  }

  /**
   * Entries in [low, high) under the Storage contract's byte budget (at least one entry), or undefined
   * unless every one of them is kept here. The answer may be an array kept here: it must not be changed.
   */
  slice(low: number, high: number, bytesMax: number): readonly Entry[] | undefined {
    const first = this.chunks.firstIndex;
    const end = this.chunks.endIndex;
    if (first === undefined || end === undefined || low < first || high > end || low >= high) return undefined;
    return this.chunks.slice(low, high, bytesMax);
  }

  /** Drops the oldest chunks past the bounds: applied ones past the first, any past the second. */
  private trim(): void {
    while (this.chunks.bytes > this.bytesMax && this.chunks.endIndex !== undefined) {
      const applied = this.chunks.oldestChunkEnd! <= this.appliedIndex;
      if (!applied && this.chunks.bytes <= this.unappliedBytesMax) return;
      this.chunks.dropOldest();
    }
  }
}
