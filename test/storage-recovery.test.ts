// Damage on disk, repaired or reported on open: a torn or corrupt tail of the active segment is cut
// and the log continues after the last good record; damage in a sealed segment is reported on read
// as data loss and never returned as data.
import assert from "node:assert/strict";
import { rm, stat, truncate } from "node:fs/promises";
import { describe, test } from "node:test";
import { DataLossError, RpcCode } from "../src/errors.ts";
import { COMPACT_HEADER_BYTES, FULL_HEADER_BYTES, Log, type LogConfig } from "../src/storage/index.ts";
import { flipByte, overwrite, segmentFile } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { cleanup } from "./support/cleanup.ts";

const config: Partial<LogConfig> = { indexEntriesMax: 5, recordBytesMax: 64, batchBytesMax: 1 << 16, pendingBytesMax: 1 << 16 };
const VALUE_BYTES = "record-00".length;
const FULL_FRAME_BYTES = FULL_HEADER_BYTES + VALUE_BYTES;
const COMPACT_FRAME_BYTES = COMPACT_HEADER_BYTES + VALUE_BYTES;

/** Where the value of the k-th record of a segment starts: one batch makes one full frame, then compact ones. */
function valuePosition(k: number): number {
  return k === 0 ? FULL_HEADER_BYTES : FULL_FRAME_BYTES + (k - 1) * COMPACT_FRAME_BYTES + COMPACT_HEADER_BYTES;
}

function value(i: number): Buffer {
  return Buffer.from(`record-${String(i).padStart(2, "0")}`);
}

/** A closed log of `count` records in segments of 5, for damaging. */
async function writeLog(dir: string, count: number): Promise<void> {
  const log = await Log.open(dir, config);
  await log.append(Array.from({ length: count }, (_, i) => value(i)));
  await log.close();
}



/** Reopens, checks the log holds exactly records [0, count), and that appending continues at count. */
async function assertRepairedTo(dir: string, count: number): Promise<Log["recovery"]> {
  const log = await Log.open(dir, config);
  try {
    assert.equal(log.nextOffset, count);
    for (let i = 0; i < count; i++) assert.deepEqual(log.read(i).value, value(i));
    assert.equal(await log.append([value(count)]), count);
    assert.deepEqual(log.read(count).value, value(count));
    return log.recovery;
  } finally {
    await log.close();
  }
}

describe("active segment repair", () => {
  test("a store cut in the middle of its last record loses only that record", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 13);
    const store = segmentFile(dir, 10, ".store");
    await truncate(store, (await stat(store)).size - 7);
    const recovery = await assertRepairedTo(dir, 12);
    assert.equal(recovery.truncatedBytes, COMPACT_FRAME_BYTES - 7);
  });

  test("a store cut inside a frame header is repaired too", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 13);
    await truncate(segmentFile(dir, 10, ".store"), valuePosition(2) - 3);
    await assertRepairedTo(dir, 12);
  });

  test("a flipped byte in the last record cuts it off", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 13);
    await flipByte(segmentFile(dir, 10, ".store"), valuePosition(2) + 3);
    const recovery = await assertRepairedTo(dir, 12);
    assert.equal(recovery.truncatedBytes, COMPACT_FRAME_BYTES);
  });

  test("garbage after the last record is cut off", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 13);
    const store = segmentFile(dir, 10, ".store");
    await overwrite(store, (await stat(store)).size, Buffer.from("a torn write of random bytes"));
    await assertRepairedTo(dir, 13);
  });

  test("a zero-filled index tail is rebuilt from the store", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 14);
    await overwrite(segmentFile(dir, 10, ".index"), 8, Buffer.alloc(3 * 8));
    const recovery = await assertRepairedTo(dir, 14);
    assert.equal(recovery.scannedRecords, 3);
  });

  test("an index that is all zeros (the Go original's crash state) is rebuilt from the store", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 14);
    await overwrite(segmentFile(dir, 10, ".index"), 0, Buffer.alloc(5 * 8));
    await overwrite(segmentFile(dir, 10, ".runindex"), 0, Buffer.alloc(5 * 32));
    const recovery = await assertRepairedTo(dir, 14);
    assert.equal(recovery.scannedRecords, 4);
    const log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    assert.equal(log.offsetForTime(0), 0, "the run index, which is the time index, is rebuilt too");
    assert.equal(log.read(12).timestampMs, log.read(0).timestampMs, "records get their run's metadata back");
  });

  test("index entries pointing past the store are discarded", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 14);
    const stale = Buffer.alloc(8);
    stale.writeBigUInt64LE(10_000n);
    await overwrite(segmentFile(dir, 10, ".index"), 4 * 8, stale);
    await assertRepairedTo(dir, 14);
  });
});

describe("sealed segment damage", () => {
  test("a flipped byte inside a sealed segment is a data-loss error on read, not data", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 12);
    await flipByte(segmentFile(dir, 0, ".store"), valuePosition(2) + 1);
    const log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    assert.equal(log.nextOffset, 12, "nothing is cut from a sealed segment");
    assert.throws(
      () => log.read(2),
      (error: unknown) => error instanceof DataLossError && error.rpcCode === RpcCode.dataLoss && /checksum/.test(error.message),
    );
    assert.deepEqual(
      log.readRange(0).map((record) => record.value),
      [value(0), value(1)],
      "a range read returns the records before the damaged one",
    );
    assert.throws(() => log.readRange(2), DataLossError, "and the damaged one when it starts there");
    assert.deepEqual(log.readRange(3, { countMax: 2 }).map((record) => record.value), [value(3), value(4)]);
    assert.deepEqual(log.read(1).value, value(1));
    assert.deepEqual(log.read(3).value, value(3));
  });

  test("a middle segment whose files are gone reads as data loss naming the cause, in the segment before the gap", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 12);
    for (const suffix of [".store", ".index", ".runindex"] as const) await rm(segmentFile(dir, 5, suffix));
    const log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    assert.deepEqual(log.read(4).value, value(4));
    // Before: "index entry out of order", as if the segment before were scrambled.
    assert.throws(() => log.read(7), (error: unknown) => error instanceof DataLossError && /store ends before this record .*next segment's files are missing/.test(error.message));
    assert.deepEqual(log.read(10).value, value(10));
  });

  test("a flipped byte in the last record of a sealed segment keeps every later segment", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 12);
    await flipByte(segmentFile(dir, 5, ".store"), valuePosition(4) + 2);
    const log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    assert.equal(log.nextOffset, 12);
    assert.throws(() => log.read(9), DataLossError);
    assert.deepEqual(log.read(10).value, value(10));
  });

  test("a damaged run header with a lost run index: the run's records read as data loss, never with made-up metadata", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 12);
    await flipByte(segmentFile(dir, 0, ".store"), 8);
    await rm(segmentFile(dir, 0, ".runindex"));
    const log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    for (let i = 0; i < 5; i++) assert.throws(() => log.read(i), DataLossError, `record ${i} takes its term from the damaged header`);
    assert.throws(() => log.termAt(3), DataLossError);
    for (let i = 5; i < 12; i++) assert.deepEqual(log.read(i).value, value(i));
    assert.equal(log.offsetForTime(0), 0, "the time index keeps its order");
  });

  test("a kept run index entry that the store contradicts is read once: its records' terms stay data loss without reading the store again", async (t) => {
    const dir = await tempDir(t);
    const written = await Log.open(dir, config);
    // Two runs in the first segment: the last run's entry is checked at open, the first's when first asked for.
    await written.append([value(0), value(1)], { term: 1, timestampMs: 1000 });
    await written.append([value(2), value(3), value(4)], { term: 2, timestampMs: 2000 });
    await written.close();
    await flipByte(segmentFile(dir, 0, ".store"), 8);
    const log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    assert.equal(log.termAt(3), 2);
    assert.throws(() => log.termAt(1), DataLossError);
    // Put the byte back behind the open log: a lookup that read the store again would now find it intact.
    await flipByte(segmentFile(dir, 0, ".store"), 8);
    assert.throws(() => log.termAt(1), DataLossError, "the store was read again for a run already found not to match it");
    // Cut below that run and write again: the new run is this process's own, whatever was remembered of the old.
    await log.truncateAfter(-1);
    await log.append([value(0), value(1)], { term: 5, timestampMs: 5000 });
    assert.equal(log.termAt(1), 5);
  });

  test("a run index that lost its last entry gives that run's records their own metadata, not the run's before", async (t) => {
    const dir = await tempDir(t);
    const log = await Log.open(dir, config);
    await log.append([value(0), value(1)], { term: 1, timestampMs: 1000 });
    await log.append([value(2), value(3), value(4)], { term: 2, timestampMs: 2000 });
    await log.append([value(5)], { term: 3, timestampMs: 3000 });
    await log.close();
    await overwrite(segmentFile(dir, 0, ".runindex"), 32, Buffer.alloc(32));
    const reopened = await Log.open(dir, config);
    cleanup(t, () => reopened.close());
    assert.deepEqual([2, 3, 4].map((i) => [reopened.read(i).term, reopened.read(i).timestampMs, reopened.termAt(i)]), [[2, 2000, 2], [2, 2000, 2], [2, 2000, 2]]);
    assert.equal(reopened.offsetForTime(1500), 2);
  });

  test("a sealed store shorter than its successor's start opens and reports the missing records as data loss", async (t) => {
    const dir = await tempDir(t);
    await writeLog(dir, 12);
    await truncate(segmentFile(dir, 5, ".store"), valuePosition(3) - COMPACT_HEADER_BYTES);
    const log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    assert.equal(log.nextOffset, 12, "the gap is kept, not hidden");
    for (const offset of [8, 9]) assert.throws(() => log.read(offset), DataLossError);
    assert.throws(() => log.termAt(9), DataLossError, "no term is made up for a record the store lacks");
    for (const offset of [0, 5, 7, 10, 11]) assert.deepEqual(log.read(offset).value, value(offset));
  });
});

describe("sealed index rebuild", () => {
  const damages: Array<[string, (dir: string) => Promise<unknown>]> = [
    ["missing", (dir) => rm(segmentFile(dir, 5, ".index"))],
    ["truncated", (dir) => truncate(segmentFile(dir, 5, ".index"), 2 * 8 + 3)],
    ["zeroed in the middle", (dir) => overwrite(segmentFile(dir, 5, ".index"), 8, Buffer.alloc(2 * 8))],
    ["overwritten with entries that go backwards", (dir) => overwrite(segmentFile(dir, 5, ".index"), 2 * 8, Buffer.alloc(8, 1))],
    ["missing with its run index", async (dir) => Promise.all([rm(segmentFile(dir, 5, ".index")), rm(segmentFile(dir, 5, ".runindex"))])],
  ];
  for (const [what, damage] of damages) {
    test(`a sealed index that is ${what} is rebuilt from its store on open`, async (t) => {
      const dir = await tempDir(t);
      await writeLog(dir, 12);
      await damage(dir);
      const log = await Log.open(dir, config);
      cleanup(t, () => log.close());
      assert.equal(log.nextOffset, 12);
      for (let i = 0; i < 12; i++) assert.deepEqual(log.read(i).value, value(i), `record ${i}`);
      assert.equal(log.termAt(7), 0);
      assert.deepEqual((await log.scrub()).damaged, []);
    });
  }
});
