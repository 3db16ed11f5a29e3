// The in-memory suffix of the Raft log: it answers only what it fully holds, under the Storage
// contract's byte budget, follows truncation exactly, and stays within its bound even for empty records.
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
