// The idempotent producers' table and its batch marks: duplicates answered with their offsets, a
// window and a number of producers bounded, numbers below the forgotten ones refused, and a retry
// that arrives while its original is in flight waits for the original's outcome; a batch the log
// would refuse leaves no mark.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BatchTooLargeError, DataLossError, RecordTooLargeError, SequenceReusedError, SequenceTooOldError } from "../src/errors.ts";
import { Log } from "../src/storage/log.ts";
import { LogProducers } from "../src/storage/log-producers.ts";
import { decodeBatchMark, encodeBatchMark, type BatchMark } from "../src/storage/batch-mark.ts";
import { ProducerAppends, storedValuesIn } from "../src/storage/producer-appends.ts";
import { producerKey, ProducerSequences, resolveProducerLimits } from "../src/storage/producer-sequences.ts";
import { cleanup } from "./support/cleanup.ts";
import { tempDir } from "./support/temp-dir.ts";

const id = (name: string): Uint8Array => Buffer.from(name);

test("a batch mark reads back as written, and a producer id of 0 or 65 bytes is refused", () => {
  const mark = { producerId: id("p-1"), sequence: 2n ** 64n - 1n, count: 7 };
  assert.deepEqual(decodeBatchMark(encodeBatchMark(mark)), { ...mark, producerId: new Uint8Array(id("p-1")) });
  assert.throws(() => encodeBatchMark({ ...mark, producerId: new Uint8Array(0) }), /1 to 64 bytes/);
  assert.throws(() => encodeBatchMark({ ...mark, producerId: new Uint8Array(65) }), /1 to 64 bytes/);
});

test("an owned producer's mark holds its owner's tag before its id, in the same version-1 layout, so that nodes of earlier releases read it", () => {
  const owned = { producerId: id("p-1"), sequence: 3n, count: 2, owner: 0xfedc_ba98_7654_3210n };
  const bytes = encodeBatchMark(owned);
  assert.equal(bytes[4], 1);
  const tag = Buffer.alloc(8);
  tag.writeBigUInt64LE(owned.owner);
  const read = decodeBatchMark(bytes);
  assert.deepEqual(Buffer.from(read.producerId), Buffer.concat([tag, id("p-1")]));
  assert.equal(producerKey(read), producerKey(owned), "the mark read back names the producer the batch was sent as");
  assert.notEqual(producerKey(owned), producerKey({ producerId: id("p-1"), sequence: 3n }));
  // The id a client sends stays at most 64 bytes; with the tag a mark holds up to 72.
  assert.equal(decodeBatchMark(encodeBatchMark({ ...owned, producerId: new Uint8Array(64) })).producerId.length, 72);
});

test("two owners' producers of the same id are two producers, and neither is the anonymous producer of that id", () => {
  const table = new ProducerSequences({ producersMax: 10, sequencesPerProducerMax: 3 });
  const observe = (mark: BatchMark, offset: number): void => table.observe(decodeBatchMark(encodeBatchMark(mark)), offset);
  observe({ producerId: id("p"), sequence: 0n, count: 1, owner: 1n }, 10);
  observe({ producerId: id("p"), sequence: 0n, count: 1, owner: 2n }, 20);
  observe({ producerId: id("q"), sequence: 0n, count: 1 }, 30);
  assert.deepEqual(table.lookup({ producerId: id("p"), sequence: 0n, owner: 1n }), { firstOffset: 11, count: 1 });
  assert.deepEqual(table.lookup({ producerId: id("p"), sequence: 0n, owner: 2n }), { firstOffset: 21, count: 1 });
  assert.equal(table.lookup({ producerId: id("p"), sequence: 0n, owner: 3n }), undefined);
  assert.equal(table.lookup({ producerId: id("p"), sequence: 0n }), undefined, "an anonymous producer is not an owned one");
  assert.deepEqual(table.lookup({ producerId: id("q"), sequence: 0n }), { firstOffset: 31, count: 1 });
  assert.equal(table.lookup({ producerId: id("q"), sequence: 0n, owner: 1n }), undefined);
});

test("with owned ids, a full table forgets a producer of the owner holding the most: a flood of made-up ids pushes out the flooder's own", () => {
  const table = new ProducerSequences({ producersMax: 6, sequencesPerProducerMax: 3, ownedIds: true });
  const observe = (mark: BatchMark, offset: number): void => table.observe(decodeBatchMark(encodeBatchMark(mark)), offset);
  observe({ producerId: id("alice-0"), sequence: 0n, count: 1, owner: 1n }, 1);
  observe({ producerId: id("alice-1"), sequence: 0n, count: 1, owner: 1n }, 2);
  observe({ producerId: id("carol"), sequence: 0n, count: 1, owner: 3n }, 3);
  for (let i = 0; i < 100; i++) observe({ producerId: id(`made-up-${i}`), sequence: 0n, count: 1, owner: 2n }, 10 + i);
  assert.equal(table.size, 6);
  assert.deepEqual(table.lookup({ producerId: id("alice-0"), sequence: 0n, owner: 1n }), { firstOffset: 2, count: 1 }, "the oldest of all stays: its owner holds less");
  assert.deepEqual(table.lookup({ producerId: id("carol"), sequence: 0n, owner: 3n }), { firstOffset: 4, count: 1 });
  assert.equal(table.lookup({ producerId: id("made-up-96"), sequence: 0n, owner: 2n }), undefined, "the flooder's older ids went");
  assert.deepEqual(table.lookup({ producerId: id("made-up-99"), sequence: 0n, owner: 2n }), { firstOffset: 110, count: 1 });
  // Without owned ids the same marks push out the least recently appended of all, as before.
  const plain = new ProducerSequences({ producersMax: 6, sequencesPerProducerMax: 3 });
  plain.observe({ producerId: id("alice-0"), sequence: 0n, count: 1 }, 1);
  for (let i = 0; i < 100; i++) plain.observe({ producerId: id(`made-up-${i}`), sequence: 0n, count: 1 }, 10 + i);
  assert.equal(plain.lookup({ producerId: id("alice-0"), sequence: 0n }), undefined);
});

test("a remembered batch is answered with its offsets; older than the window is SEQUENCE_TOO_OLD; gaps are new", () => {
  const table = new ProducerSequences({ producersMax: 10, sequencesPerProducerMax: 3 });
  // Each mark is at 10 + 3 x sequence, its two records just after it.
  for (const sequence of [0n, 1n, 2n, 5n]) table.observe({ producerId: id("a"), sequence, count: 2 }, 10 + Number(sequence) * 3);
  assert.deepEqual(table.lookup({ producerId: id("a"), sequence: 5n }), { firstOffset: 26, count: 2 });
  assert.deepEqual(table.lookup({ producerId: id("a"), sequence: 1n }), { firstOffset: 14, count: 2 });
  assert.equal(table.lookup({ producerId: id("a"), sequence: 3n }), undefined, "a gap above the forgotten ones is new");
  assert.equal(table.lookup({ producerId: id("a"), sequence: 9n }), undefined);
  assert.throws(() => table.lookup({ producerId: id("a"), sequence: 0n }), (error) => error instanceof SequenceTooOldError && error.code === "SEQUENCE_TOO_OLD");
  assert.equal(table.lookup({ producerId: id("b"), sequence: 0n }), undefined, "an unknown producer starts afresh");
});

test("the least recently appended producer is forgotten first", () => {
  const table = new ProducerSequences({ producersMax: 2, sequencesPerProducerMax: 4 });
  table.observe({ producerId: id("a"), sequence: 0n, count: 1 }, 1);
  table.observe({ producerId: id("b"), sequence: 0n, count: 1 }, 2);
  table.observe({ producerId: id("a"), sequence: 1n, count: 1 }, 3);
  table.observe({ producerId: id("c"), sequence: 0n, count: 1 }, 4);
  assert.equal(table.size, 2);
  assert.equal(table.lookup({ producerId: id("b"), sequence: 0n }), undefined, "b was forgotten");
  assert.deepEqual(table.lookup({ producerId: id("a"), sequence: 0n }), { firstOffset: 2, count: 1 });
});

test("limits are checked at start with the name of the one out of range", () => {
  assert.deepEqual(resolveProducerLimits({}), { producersMax: 4_096, sequencesPerProducerMax: 128, scanRecordsMax: 1_000_000 });
  assert.throws(() => resolveProducerLimits({ producersMax: 0 }), /producers\.producersMax/);
  assert.throws(() => resolveProducerLimits({ sequencesPerProducerMax: 1.5 }), /producers\.sequencesPerProducerMax/);
});

test("a retry while the original is in flight waits for it and answers its offsets, writing nothing", async () => {
  const appends = new ProducerAppends({ producersMax: 10, sequencesPerProducerMax: 10 }, (first, count) => (first === 100 && count === 2 ? [id("x"), id("y")] : undefined));
  const batch = { producerId: id("p"), sequence: 4n };
  let writes = 0;
  let commit!: () => void;
  const write = (values: readonly Uint8Array[], mark: Uint8Array): Promise<number> => {
    writes++;
    // The mark lands at 99 and the values from 100 on once "committed", as a cluster applies them.
    assert.equal(values.length, 2);
    return new Promise((resolve) => (commit = () => {
      appends.applied(decodeBatchMark(mark), 99);
      resolve(100);
    }));
  };
  const original = appends.appendOnce([id("x"), id("y")], batch, write);
  const retry = appends.appendOnce([id("x"), id("y")], batch, write);
  await new Promise((resolve) => setImmediate(resolve));
  commit();
  assert.deepEqual(await original, { firstOffset: 100, count: 2 });
  assert.deepEqual(await retry, { firstOffset: 100, count: 2 });
  assert.deepEqual(await appends.appendOnce([id("x"), id("y")], batch, write), { firstOffset: 100, count: 2 });
  assert.equal(writes, 1);
});

test("a retry waiting on a batch whose leader stepped down fails (to be retried at the new leader); a forgotten write is written again", async () => {
  const appends = new ProducerAppends({ producersMax: 10, sequencesPerProducerMax: 10 }, () => undefined);
  const batch = { producerId: id("p"), sequence: 1n };
  let writes = 0;
  const never = (): Promise<number> => {
    writes++;
    return new Promise(() => undefined);
  };
  void appends.appendOnce([id("x")], batch, never);
  const retry = appends.appendOnce([id("x")], batch, never);
  await new Promise((resolve) => setImmediate(resolve));
  appends.abandon(new Error("leadership changed"));
  await assert.rejects(retry, /leadership changed/);
  assert.equal(writes, 1, "the retry failed instead of writing");
  void appends.appendOnce([id("x")], batch, never);
  assert.equal(writes, 2);
  appends.forget(batch);
  void appends.appendOnce([id("x")], batch, never);
  void appends.appendOnce([id("x")], batch, never);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(writes, 3, "after a forgotten write the next is written, and the one behind it waits on it");
});

test("an idempotent batch the log would refuse leaves no batch mark, in either shape", async (t) => {
  const log = await Log.open(await tempDir(t), { recordBytesMax: 16 });
  cleanup(t, () => log.close());
  const producers = await LogProducers.open(log, resolveProducerLimits({}));
  const oversized = [Buffer.from("ok"), Buffer.alloc(17)];
  await assert.rejects(producers.appendOnce(oversized, { producerId: id("p"), sequence: 0n }), RecordTooLargeError);
  const bytes = Buffer.concat(oversized);
  const gathered = { bytes, offsets: Uint32Array.of(0, 2), lengths: Uint32Array.of(2, 17) };
  await assert.rejects(producers.appendGatheredOnce(gathered, { producerId: id("p"), sequence: 1n }), RecordTooLargeError);
  await log.sync();
  assert.equal(log.nextOffset, 0, "nothing was written, no mark either");
});

test("a batch mark is shown to readers only with its records, however the batches queue behind each other", async (t) => {
  // Small segments, so that batches also straddle segments; a small budget, so that appends wait.
  const log = await Log.open(await tempDir(t), { recordBytesMax: 200, indexEntriesMax: 16, batchBytesMax: 2048, pendingBytesMax: 2048 });
  cleanup(t, () => log.close());
  const producers = await LogProducers.open(log, resolveProducerLimits({}));
  // Every time the end readers see moves, it must not end just past a mark whose records are not
  // all there: such a mark was committed alone, and a crash then made the next start cut it and
  // give its offset to another record, which a reader that had seen the mark never saw.
  const seen: number[] = [];
  const watch = async (): Promise<void> => {
    for (let next = log.nextOffset + 1; next <= 8 * 6; next = log.nextOffset + 1) {
      await log.waitFor(next - 1);
      seen.push(log.nextOffset);
    }
  };
  const watching = watch();
  const appended = await Promise.all(
    Array.from({ length: 8 }, (_, i) => producers.appendOnce(Array.from({ length: 5 }, () => Buffer.alloc(100, i)), { producerId: id(`p${i}`), sequence: 0n })),
  );
  await watching;
  const marks = new Set(appended.map(({ firstOffset }) => Number(firstOffset) - 1));
  for (const end of seen) assert.ok(!marks.has(end - 1), `readers saw the log end at ${end}, just past a mark whose records were not there (ends seen: ${seen.join(" ")})`);
  for (const offset of marks) assert.equal(log.read(offset).type, 3);
});

test("an idempotent batch whose records and mark together exceed pendingBytesMax is refused as too large, not an internal failure", async (t) => {
  // The records alone fit batchBytesMax, which pendingBytesMax may equal; their mark goes with them.
  const log = await Log.open(await tempDir(t), { recordBytesMax: 1000, batchBytesMax: 2048, pendingBytesMax: 2048 });
  cleanup(t, () => log.close());
  const producers = await LogProducers.open(log, resolveProducerLimits({}));
  const values = [Buffer.alloc(1000), Buffer.alloc(990)];
  await assert.rejects(producers.appendOnce(values, { producerId: id("p"), sequence: 0n }), BatchTooLargeError);
  assert.equal(log.nextOffset, 0, "nothing was written, no mark either");
  assert.deepEqual(await producers.appendOnce([Buffer.alloc(100)], { producerId: id("p"), sequence: 1n }), { firstOffset: 1, count: 1 });
});

test("a retry's records are read back only when its count matches, and damaged or dropped records count as gone", async () => {
  let reads = 0;
  const damaged = storedValuesIn({
    lowestOffset: 10,
    readRange: () => {
      reads++;
      throw new DataLossError("checksum mismatch");
    },
  });
  assert.equal(damaged(10, 2), undefined, "unreadable: cannot be compared, answered as before");
  assert.equal(damaged(5, 2), undefined, "below the log's start: dropped by retention");
  assert.equal(reads, 1);
  let read = 0;
  const appends = new ProducerAppends({ producersMax: 10, sequencesPerProducerMax: 10 }, () => {
    read++;
    return [id("a"), id("b")];
  });
  const batch = { producerId: id("p"), sequence: 0n };
  appends.applied({ ...batch, count: 2 }, 99);
  await assert.rejects(appends.appendOnce([id("a")], batch, () => Promise.resolve(0)), SequenceReusedError);
  assert.equal(read, 0, "a different count is refused without reading the batch back");
});
