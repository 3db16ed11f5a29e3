// Finding and repairing damage in place: the scrub reports exactly the records a read refuses,
// the background scrubber finds a flip by itself, and replaceRange puts verified records from a
// healthy copy in place of damaged ones, durably, refusing records that do not fit the log.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { DataLossError, InvalidArgumentError, OffsetOutOfRangeError } from "../src/errors.ts";
import { FULL_HEADER_BYTES, Log, type DamagedRange, type LogConfig } from "../src/storage/index.ts";
import { cleanup } from "./support/cleanup.ts";
import { flipByte, segmentFile } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntil } from "./support/wait-until.ts";

const config: Partial<LogConfig> = { indexEntriesMax: 10, recordBytesMax: 64, batchBytesMax: 1 << 16, pendingBytesMax: 1 << 16 };

function value(i: number): Buffer {
  return Buffer.from(`record-${String(i).padStart(3, "0")}`);
}

/** A log of `count` records in segments of 10, one append per record (every frame full), plus a healthy copy of it. */
async function logAndCopy(t: import("node:test").TestContext, count: number, term = 0): Promise<{ dir: string; healthy: Log }> {
  const dir = await tempDir(t);
  const copyDir = await tempDir(t);
  for (const path of [dir, copyDir]) {
    const log = await Log.open(path, config);
    for (let i = 0; i < count; i++) await log.append([value(i)], { term, timestampMs: 1000 + i });
    await log.close();
  }
  const healthy = await Log.open(copyDir, config);
  cleanup(t, () => healthy.close());
  return { dir, healthy };
}

/** Position of the value of record `k` of a segment written one record per append. */
function valuePosition(k: number): number {
  return k * (FULL_HEADER_BYTES + value(0).length) + FULL_HEADER_BYTES;
}

async function openDamaged(t: import("node:test").TestContext, dir: string, flips: Array<[number, number]>): Promise<Log> {
  for (const [base, k] of flips) await flipByte(segmentFile(dir, base, ".store"), valuePosition(k) + 2);
  const log = await Log.open(dir, config);
  cleanup(t, () => log.close());
  return log;
}

describe("scrub", () => {
  test("reports exactly the damaged records, per segment, and a single node serves everything else", async (t) => {
    const { dir } = await logAndCopy(t, 35);
    const log = await openDamaged(t, dir, [[0, 3], [10, 4], [10, 5], [10, 8], [30, 1]]);
    const report = await log.scrub();
    const expected: DamagedRange[] = [
      { segmentBaseOffset: 0, firstOffset: 3, endOffset: 4 },
      { segmentBaseOffset: 10, firstOffset: 14, endOffset: 16 },
      { segmentBaseOffset: 10, firstOffset: 18, endOffset: 19 },
      { segmentBaseOffset: 30, firstOffset: 31, endOffset: 32 },
    ];
    assert.deepEqual(report.damaged, expected);
    assert.equal(report.recordsChecked, 35);
    assert.deepEqual(log.damagedRanges, expected);
    const damaged = new Set([3, 14, 15, 18, 31]);
    for (let i = 0; i < 35; i++) {
      if (damaged.has(i)) assert.throws(() => log.read(i), DataLossError, `record ${i}`);
      else assert.deepEqual(log.read(i).value, value(i), `record ${i}`);
    }
  });

  test("keeps to its byte rate", async (t) => {
    const { dir } = await logAndCopy(t, 30);
    const log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    const bytes = 30 * (FULL_HEADER_BYTES + value(0).length);
    const started = performance.now();
    const report = await log.scrub({ bytesPerSecond: bytes * 4 });
    assert.equal(report.bytesChecked, bytes);
    assert.ok(performance.now() - started >= 200, `a scrub of ${bytes} bytes at ${bytes * 4} B/s took ${performance.now() - started} ms`);
  });

  test("the background scrubber finds a flipped byte within its period and reports it", async (t) => {
    const { dir } = await logAndCopy(t, 25);
    await flipByte(segmentFile(dir, 10, ".store"), valuePosition(6) + 2);
    const log = await Log.open(dir, { ...config, scrubBytesPerSecond: 1 << 20, scrubIntervalMs: 50 });
    cleanup(t, () => log.close());
    let found: readonly DamagedRange[] = [];
    log.once("damage", (ranges) => (found = ranges));
    await waitUntil("the scrubber's damage event", () => found.length > 0);
    assert.deepEqual(found, [{ segmentBaseOffset: 10, firstOffset: 16, endOffset: 17 }]);
    assert.deepEqual(log.damagedRanges, found);
  });
});

describe("replaceRange", () => {
  test("puts verified records from a healthy copy in place of damaged ones, durably, sealed or active", async (t) => {
    const { dir, healthy } = await logAndCopy(t, 25);
    let log = await openDamaged(t, dir, [[10, 4], [10, 5], [10, 8], [20, 2]]);
    for (const range of (await log.scrub()).damaged.filter((r) => r.segmentBaseOffset === 20)) {
      await log.replaceRange(range.firstOffset, healthy.readFrames(range.firstOffset, { countMax: range.endOffset - range.firstOffset }).frames);
    }
    // Two ranges in one segment are replaced in one call from the first to the end of the last.
    await log.replaceRange(14, healthy.readFrames(14, { countMax: 5 }).frames);
    assert.deepEqual((await log.scrub()).damaged, []);
    assert.deepEqual(log.damagedRanges, []);
    assert.equal(await log.append([value(25)], { timestampMs: 2000 }), 25, "appends continue after the active segment's rewrite");
    await log.close();
    log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    for (let i = 0; i < 26; i++) assert.deepEqual(log.read(i).value, value(i), `record ${i} after reopening`);
    assert.equal(log.read(15).timestampMs, 1015);
  });

  test("refuses records that do not fit, and leaves the log as it was", async (t) => {
    const { dir, healthy } = await logAndCopy(t, 25, 3);
    const log = await openDamaged(t, dir, [[10, 4], [10, 8]]);
    const frames = (from: number, count: number): Buffer => healthy.readFrames(from, { countMax: count }).frames;
    await assert.rejects(log.replaceRange(14, frames(14, 1)), (e: unknown) => e instanceof DataLossError && /record 18 is damaged too/.test(e.message));
    await assert.rejects(log.replaceRange(9, Buffer.concat([frames(9, 1), frames(10, 1)])), InvalidArgumentError, "a range may not cross a segment's end");
    await assert.rejects(log.replaceRange(14, frames(15, 1)), DataLossError, "frames must be at the offsets given");
    await assert.rejects(log.replaceRange(30, frames(20, 1).subarray(0)), DataLossError);
    await assert.rejects(log.replaceRange(24, frames(24, 1)).then(() => log.replaceRange(25, frames(24, 1))), DataLossError);
    const other = await Log.open(await tempDir(t), { ...config, initialOffset: 14 });
    cleanup(t, () => other.close());
    await other.append([value(14)], { term: 2, timestampMs: 1014 });
    await other.append([value(15)], { term: 9, timestampMs: 1015 });
    await assert.rejects(log.replaceRange(14, other.readFrames(14, { countMax: 1 }).frames), InvalidArgumentError, "an older term than the records before");
    await assert.rejects(log.replaceRange(15, other.readFrames(15, { countMax: 1 }).frames), InvalidArgumentError, "a term that differs from the one held");
    assert.throws(() => log.read(14), DataLossError);
    await assert.rejects(log.replaceRange(40, frames(20, 1)), (e: unknown) => e instanceof DataLossError || e instanceof OffsetOutOfRangeError);
    await log.replaceRange(14, frames(14, 5));
    assert.deepEqual((await log.scrub()).damaged, []);
  });
});
