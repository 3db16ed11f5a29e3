// The in-memory suffix of the Raft log: it answers only what it fully holds, under the Storage
// contract's byte budget, follows truncation exactly, stays within its bound even for empty records, and
// forgets whole chunks that are no longer wanted.
import assert from "node:assert/strict";
import { test } from "node:test";
import { RecentEntries } from "../src/cluster/recent-entries.ts";
import { EntryType, entryBytes, type Entry } from "../src/raft/index.ts";

function entries(first: number, count: number, dataBytes = 10, term = 1): Entry[] {
  return Array.from({ length: count }, (_, i) => ({ index: first + i, term, type: EntryType.Normal, data: new Uint8Array(dataBytes), timestampMs: 5 }));
}

const indexes = (list: readonly Entry[] | undefined): number[] | undefined => list?.map((entry) => entry.index);

test("slices across chunks, within the byte budget but always at least one entry", () => {
  const recent = new RecentEntries(1 << 20);
  recent.add(entries(1, 3));
  recent.add(entries(4, 3));
  assert.deepEqual(indexes(recent.slice(2, 6, Number.MAX_SAFE_INTEGER)), [2, 3, 4, 5]);
  const each = entryBytes(entries(1, 1)[0]!);
  assert.deepEqual(indexes(recent.slice(2, 7, 3 * each)), [2, 3, 4]);
  assert.deepEqual(indexes(recent.slice(3, 7, 1)), [3], "one entry even when it alone is over budget");
  assert.equal(recent.slice(0, 3, 1 << 20), undefined, "below what is kept: the log answers");
  assert.equal(recent.slice(5, 8, 1 << 20), undefined, "beyond what is kept");
});

test("truncation inside a chunk keeps the entries before it, and what follows continues from there", () => {
  const recent = new RecentEntries(1 << 20);
  recent.add(entries(1, 5));
  recent.add(entries(6, 5));
  recent.truncateFrom(4);
  assert.equal(recent.slice(1, 5, 1 << 20), undefined, "index 4 is gone");
  recent.add(entries(4, 2, 10, 2));
  const after = recent.slice(1, 6, 1 << 20)!;
  assert.deepEqual(indexes(after), [1, 2, 3, 4, 5]);
  assert.deepEqual(after.map((entry) => entry.term), [1, 1, 1, 2, 2], "the replacements, not the truncated entries");
});

test("entries that do not continue what is kept replace it", () => {
  const recent = new RecentEntries(1 << 20);
  recent.add(entries(1, 3));
  recent.add(entries(10, 2));
  assert.equal(recent.firstIndex, 10);
  assert.equal(recent.slice(1, 4, 1 << 20), undefined);
  recent.clear();
  assert.equal(recent.firstIndex, undefined);
});

test("the oldest chunks are dropped past the bound, counted as the core counts entries (empty ones too)", () => {
  const bound = 1000 * entryBytes(entries(1, 1, 0)[0]!);
  const recent = new RecentEntries(bound);
  for (let first = 1; first <= 100_000; first += 100) recent.add(entries(first, 100, 0));
  assert.equal(recent.firstIndex, 100_001 - 1000, "exactly the newest 1,000 empty entries are kept");
  assert.deepEqual(indexes(recent.slice(99_999, 100_001, bound)), [99_999, 100_000]);
});

test("forgetting through an index drops only whole chunks at or below it, and frees their share of the bound", () => {
  const each = entryBytes(entries(1, 1)[0]!);
  const recent = new RecentEntries(9 * each);
  recent.add(entries(1, 3));
  recent.add(entries(4, 3));
  recent.add(entries(7, 3));
  recent.forgetThrough(5);
  assert.equal(recent.firstIndex, 4, "the chunk holding 4 to 6 reaches past 5: kept whole");
  recent.forgetThrough(6);
  assert.equal(recent.firstIndex, 7);
  assert.equal(recent.slice(4, 8, 1 << 20), undefined, "forgotten entries are the log's to answer");
  recent.add(entries(10, 6));
  assert.equal(recent.firstIndex, 7, "the forgotten chunks no longer count against the bound");
  assert.deepEqual(indexes(recent.slice(7, 16, 1 << 20)), [7, 8, 9, 10, 11, 12, 13, 14, 15]);
  recent.forgetThrough(100);
  assert.equal(recent.firstIndex, undefined);
  recent.add(entries(16, 2));
  assert.deepEqual(indexes(recent.slice(16, 18, 1 << 20)), [16, 17], "what follows is kept again");
});

test("entries not yet applied are kept past the bound, up to the second one; applied ones go first", () => {
  const each = entryBytes(entries(1, 1)[0]!);
  const recent = new RecentEntries(4 * each, 8 * each);
  recent.add(entries(1, 2));
  recent.add(entries(3, 2));
  recent.add(entries(5, 2));
  assert.equal(recent.firstIndex, 1, "6 entries, none applied: all kept (a follower that got a backlog in one go)");
  assert.deepEqual(indexes(recent.slice(1, 7, 1 << 20)), [1, 2, 3, 4, 5, 6]);
  recent.add(entries(7, 2));
  recent.add(entries(9, 2));
  assert.equal(recent.firstIndex, 3, "past the second bound the oldest go, applied or not");
  recent.noteApplied(4);
  recent.add(entries(11, 1));
  assert.equal(recent.firstIndex, 5, "the applied chunk goes, and the unapplied ones stay within the second bound");
  recent.noteApplied(10);
  recent.add(entries(12, 1));
  assert.equal(recent.firstIndex, 9, "once applied, the first bound holds again");
});
