// Entries kept as the arrays they arrived in (chunks of consecutive indexes, none empty), as the
// unstable tail and a cluster member's recent entries keep them: a busy node takes in tens of
// thousands of entries a second, and joining them into one array copied every entry at each step.
import { entryBytes, type Entry } from "./types.ts";

/** The position of the chunk holding `index` (which must be held): the last whose first index is at or below it. */
export function chunkHolding(chunks: ReadonlyArray<readonly Entry[]>, index: number): number {
  let low = 0;
  let high = chunks.length - 1;
  while (low < high) {
    const middle = (low + high + 1) >> 1;
    if (chunks[middle]![0]!.index <= index) low = middle;
    else high = middle - 1;
  }
  return low;
}

/** The bytes of `entries` as the core counts them (`entryBytes`), to be kept beside a chunk. */
export function chunkBytesOf(entries: readonly Entry[]): number {
  let bytes = 0;
  for (let i = 0; i < entries.length; i++) bytes += entryBytes(entries[i]!);
  return bytes;
}

/**
 * Entries [low, high), all held, cut after the last that fits `bytesMax` (at least one), as the
 * Storage contract reads them; `chunkBytes` holds each chunk's bytes (chunkBytesOf). A chunk wanted
 * whole is answered as it is, not copied (the answer must not be changed), and one that fits the
 * budget whole is not walked entry by entry.
 */
export function sliceChunks(chunks: ReadonlyArray<readonly Entry[]>, chunkBytes: readonly number[], low: number, high: number, bytesMax: number): readonly Entry[] {
  const pieces: Array<readonly Entry[]> = [];
  let bytes = 0;
  let taken = 0;
  for (let index = low, chunk = chunkHolding(chunks, low); index < high; chunk++) {
    const entries = chunks[chunk]!;
    const base = entries[0]!.index;
    const whole = index === base && high >= base + entries.length;
    if (whole && bytes + chunkBytes[chunk]! <= bytesMax) {
      pieces.push(entries);
      bytes += chunkBytes[chunk]!;
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
