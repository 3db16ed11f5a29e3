// Entries kept as the arrays they arrived in (chunks of consecutive indexes, none empty), as the
// unstable tail and a cluster member's recent entries keep them: a busy node takes in tens of
// thousands of entries a second, and joining them into one array copied every entry at each step.
import { entryBytes, type Entry } from "./types.ts";

/** A run of consecutive entries, held as the arrays they were pushed in, each with its bytes. */
export class EntryChunks {
  /** The arrays, taken over when pushed: no one may change them afterwards. */
  private chunks: Array<readonly Entry[]> = [];
  /** Each chunk's bytes as the core counts them (`entryBytes`). */
  private chunkBytes: number[] = [];
  /** The bytes of every entry held. */
  bytes = 0;

  /** Index of the first entry held, or undefined when none is. */
  get firstIndex(): number | undefined {
    return this.chunks[0]?.[0]!.index;
  }

  /** Index after the last entry held, or undefined when none is. */
  get endIndex(): number | undefined {
    const last = this.chunks[this.chunks.length - 1];
    return last === undefined ? undefined : last[0]!.index + last.length;
  }

  /** Index of the last entry of the oldest chunk, or undefined when none is held. */
  get oldestChunkEnd(): number | undefined {
    const oldest = this.chunks[0];
    return oldest === undefined ? undefined : oldest[oldest.length - 1]!.index;
  }

  /** Holds `entries` (non-empty, following the last entry held), taking the array over. */
  push(entries: readonly Entry[]): void {
    let bytes = 0;
    for (let i = 0; i < entries.length; i++) bytes += entryBytes(entries[i]!);
    this.chunks.push(entries);
    this.chunkBytes.push(bytes);
    this.bytes += bytes;
  }

  /** Drops the oldest chunk. */
  dropOldest(): void {
    this.chunks.shift();
    this.bytes -= this.chunkBytes.shift()!;
  }

  /** Drops the oldest chunks whose entries are all at or below `index`. */
  dropThrough(index: number): void {
    while (this.chunks.length > 0 && this.oldestChunkEnd! <= index) this.dropOldest();
  }

  /** Drops the entries at `index` and after; the chunk it cuts is kept as a copy of its front. */
  truncateFrom(index: number): void {
    while (this.chunks.length > 0) {
      const last = this.chunks[this.chunks.length - 1]!;
      const first = last[0]!.index;
      if (first + last.length <= index) return;
      this.chunks.pop();
      this.bytes -= this.chunkBytes.pop()!;
      if (first < index) {
        this.push(last.slice(0, index - first));
        return;
      }
    }
  }

  clear(): void {
    this.chunks = [];
    this.chunkBytes = [];
    this.bytes = 0;
  }

  /** The entry at `index`, which is held. */
  entryAt(index: number): Entry {
    const entries = this.chunks[this.chunkHolding(index)]!;
    return entries[index - entries[0]!.index]!;
  }

  /**
   * Entries [low, high), all held and low < high, cut after the last that fits `bytesMax` (at least
   * one), as the Storage contract reads them. A chunk wanted whole is answered as it is, not copied
   * (the answer must not be changed), and one that fits the budget whole is not walked entry by entry.
   */
  slice(low: number, high: number, bytesMax: number): readonly Entry[] {
    const pieces: Array<readonly Entry[]> = [];
    let bytes = 0;
    let taken = 0;
    for (let index = low, chunk = this.chunkHolding(low); index < high; chunk++) {
      const entries = this.chunks[chunk]!;
      const base = entries[0]!.index;
      const whole = index === base && high >= base + entries.length;
      if (whole && bytes + this.chunkBytes[chunk]! <= bytesMax) {
        pieces.push(entries);
        bytes += this.chunkBytes[chunk]!;
        taken += entries.length;
        index += entries.length;
        continue;
      }
      const stop = Math.min(high, base + entries.length);
      let end = index;
      for (; end < stop; end++) {
        bytes += entryBytes(entries[end - base]!);
        if (bytes > bytesMax && taken + end > index) break;
      }
      pieces.push(entries.slice(index - base, end - base));
      taken += end - index;
      if (end < stop) break;
      index = end;
    }
    if (pieces.length === 1) return pieces[0]!;
    // Joined in a loop: spread into concat(), a read of many small chunks (a leader holding a few
    // hundred thousand one-record proposals behind a stalled disk) would overflow the stack.
    const joined = new Array<Entry>(taken);
    let at = 0;
    for (const piece of pieces) for (let i = 0; i < piece.length; i++) joined[at++] = piece[i]!;
    return joined;
  }

  /** The position of the chunk holding `index` (which must be held): the last whose first index is at or below it. */
  private chunkHolding(index: number): number {
    let low = 0;
    let high = this.chunks.length - 1;
    while (low < high) {
      const middle = (low + high + 1) >> 1;
      if (this.chunks[middle]![0]!.index <= index) low = middle;
      else high = middle - 1;
    }
    return low;
  }
}
