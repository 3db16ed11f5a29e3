import { assert, assertNatural } from "./assert.ts";
import type { Storage } from "./storage.ts";
import { entryBytes, emptyHardState, type Entry, type HardState, type Membership, type SnapshotPoint } from "./types.ts";

/**
 * The in-memory twin of the durable log, used by tests and the simulator. Besides the read side the
 * core uses, it offers the write side a driver uses to persist a `Ready`.
 */
export class MemoryStorage implements Storage {
  private state: HardState = emptyHardState;
  private point: SnapshotPoint;
  /** Entries with indexes [point.index + 1, point.index + log.length]. */
  private log: Entry[] = [];

  /** A new log that starts after `point` (index 0 and the initial membership for a fresh cluster). */
  constructor(point: SnapshotPoint) {
    assertNatural(point.index, "snapshot index");
    assertNatural(point.term, "snapshot term");
    this.point = point;
  }

  hardState(): HardState {
    return this.state;
  }

  snapshot(): SnapshotPoint {
    return this.point;
  }

  firstIndex(): number {
    return this.point.index + 1;
  }

  lastIndex(): number {
    return this.point.index + this.log.length;
  }

  term(index: number): number | undefined {
    if (index === this.point.index) return this.point.term;
    const entry = this.log[index - this.point.index - 1];
    return entry === undefined ? undefined : entry.term;
  }

  entries(low: number, high: number, bytesMax: number): Entry[] {
    assert(low >= this.firstIndex(), `entries low ${low} below first index ${this.firstIndex()}`);
    assert(low <= high && high <= this.lastIndex() + 1, `entries [${low}, ${high}) beyond last index ${this.lastIndex()}`);
    const start = low - this.point.index - 1;
    const end = limitByBytes(this.log, start, high - this.point.index - 1, bytesMax);
    return this.log.slice(start, end);
  }

  /** Persists the hard state (the simulator models whether this write is synced). */
  setHardState(state: HardState): void {
    assert(state.term >= this.state.term, `hard state term went back: ${this.state.term} -> ${state.term}`);
    this.state = state;
  }

  /**
   * Appends `entries`, whose indexes must be consecutive and start within [firstIndex, lastIndex + 1];
   * any existing entry at or after the first new index is dropped first (conflict truncation).
   */
  append(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    const first = entries[0] as Entry;
    assert(first.index >= this.firstIndex(), `append at ${first.index} below first index ${this.firstIndex()}`);
    assert(first.index <= this.lastIndex() + 1, `append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    const keep = first.index - this.point.index - 1;
    if (keep < this.log.length) this.log.length = keep;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i] as Entry;
      assert(entry.index === first.index + i, `append: index ${entry.index} is not consecutive`);
      this.log.push(entry);
    }
  }

  /** Replaces the whole log with an empty one starting after `point` (installing a snapshot). */
  installSnapshot(point: SnapshotPoint): void {
    assert(point.index >= this.point.index, `snapshot ${point.index} older than start ${this.point.index}`);
    this.point = point;
    this.log = [];
  }

  /**
   * Drops the entries at or before `index` (retention), recording `membership` as the configuration in
   * force at `index`. Requires firstIndex - 1 <= index <= lastIndex.
   */
  compact(index: number, membership: Membership): void {
    assert(index >= this.point.index, `compact at ${index} below start ${this.point.index}`);
    assert(index <= this.lastIndex(), `compact at ${index} beyond last index ${this.lastIndex()}`);
    const term = this.term(index);
    assert(term !== undefined, `no term at ${index}`);
    this.log = this.log.slice(index - this.point.index);
    this.point = { index, term, membership };
  }
}

/** The end (exclusive) of the longest run from `start` within `bytesMax`, at least one entry long. */
export function limitByBytes(entries: readonly Entry[], start: number, end: number, bytesMax: number): number {
  if (start >= end) return end;
  let bytes = entryBytes(entries[start] as Entry);
  let i = start + 1;
  while (i < end) {
    bytes += entryBytes(entries[i] as Entry);
    if (bytes > bytesMax) break;
    i++;
  }
  return i;
}
