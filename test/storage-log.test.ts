// The storage log through its public API: appends, reads, rotation, reopen, time lookup,
// truncation, retention, limits and typed errors.
import assert from "node:assert/strict";
import { readdirSync, readlinkSync } from "node:fs";
import { mkdir, readFile, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { describe, test } from "node:test";
import {
  BatchTooLargeError,
  DataLossError,
  InvalidArgumentError,
  InvalidConfigError,
  LogClosedError,
  LogLockedError,
  OffsetOutOfRangeError,
  RecordTooLargeError,
  RpcCode,
  StorageIoError,
} from "../src/errors.ts";
import { decodeFrames, type LogRecord } from "../src/storage/frame.ts";
import { COMPACT_HEADER_BYTES, FULL_HEADER_BYTES, Log, type LogConfig } from "../src/storage/index.ts";
import { native } from "../src/storage/native.ts";
import { segmentFile } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { cleanup } from "./support/cleanup.ts";

const MIB = 1024 * 1024;
const small: Partial<LogConfig> = { recordBytesMax: 64, batchBytesMax: 1 << 20, pendingBytesMax: 1 << 20 };

function values(from: number, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from(`record-${from + i}`));
}

async function appendOneByOne(log: Log, from: number, count: number): Promise<void> {
  for (const value of values(from, count)) await log.append([value]);
}

function assertHolds(log: Log, from: number, count: number): void {
  for (let i = from; i < from + count; i++) assert.equal(log.read(i).value.toString(), `record-${i}`);
}

describe("append and read", () => {
  test("a batch gets consecutive offsets and reads back byte for byte with its metadata", async (t) => {
    const log = await Log.open(await tempDir(t), { clock: () => 1_700_000_000_000 });
    cleanup(t, () => log.close());
    assert.equal(log.highestOffset, undefined, "an empty log has no highest offset");
    assert.equal(await log.append([Buffer.from("a"), Buffer.alloc(0), Buffer.from([0, 255, 7])], { term: 3, type: 2 }), 0);
    assert.equal(await log.append([Buffer.from("d")]), 3);
    assert.equal(log.highestOffset, 3);
    const first = log.read(0);
    assert.deepEqual(
      { offset: first.offset, term: first.term, type: first.type, timestampMs: first.timestampMs, value: first.value.toString() },
      { offset: 0, term: 3, type: 2, timestampMs: 1_700_000_000_000, value: "a" },
    );
    assert.equal(log.read(1).value.length, 0);
    assert.deepEqual([...log.read(2n).value], [0, 255, 7]);
    assert.equal(log.read(3).term, 0);
  });

  test("values lying in one buffer are stored exactly, whether back to back, with gaps, reordered or mixed", async (t) => {
    const log = await Log.open(await tempDir(t));
    cleanup(t, () => log.close());
    const shared = Buffer.from("abcdefghijklmnop");
    const other = Buffer.from("XYZ");
    const batches: Uint8Array[][] = [
      [shared.subarray(0, 3), shared.subarray(3, 7), shared.subarray(7, 8)], // back to back: stored without a copy
      [shared.subarray(0, 3), shared.subarray(4, 7)], // a gap
      [shared.subarray(3, 7), shared.subarray(0, 3)], // reordered
      [shared.subarray(0, 2), other.subarray(2, 3), shared.subarray(2, 4)], // another buffer in between
      [new Uint8Array(shared.buffer, shared.byteOffset, 2), new Uint8Array(other.buffer, other.byteOffset + 0, 0), shared.subarray(2, 3)],
    ];
    for (const batch of batches) {
      const first = await log.append(batch);
      batch.forEach((value, i) => assert.equal(log.read(first + i).value.toString(), Buffer.from(value).toString()));
    }
  });

  test("one-record and empty logs are distinguishable", async (t) => {
    const log = await Log.open(await tempDir(t));
    cleanup(t, () => log.close());
    assert.deepEqual([log.lowestOffset, log.nextOffset, log.highestOffset], [0, 0, undefined]);
    await log.append([Buffer.from("x")]);
    assert.deepEqual([log.lowestOffset, log.nextOffset, log.highestOffset], [0, 1, 0]);
  });

  test("concurrent appends share commits and every promise gets its own offset", async (t) => {
    const log = await Log.open(await tempDir(t));
    cleanup(t, () => log.close());
    const offsets = await Promise.all(values(0, 200).map((value) => log.append([value])));
    assert.deepEqual([...offsets].sort((a, b) => a - b), Array.from({ length: 200 }, (_, i) => i));
    for (const [i, offset] of offsets.entries()) assert.equal(log.read(offset).value.toString(), `record-${i}`);
  });

  test("appends made in the same turn on an idle log share one write and one fdatasync, whatever their options", async (t) => {
    // As a cluster member writes a Raft Ready: one append per run, an idempotent producer's mark
    // (its own type) and then its records. The second used to wait for a second write and sync.
    let syncs = 0;
    const metrics = { observe: () => undefined, committed: () => undefined, synced: () => void syncs++ };
    const log = await Log.open(await tempDir(t), {}, { metrics });
    cleanup(t, () => log.close());
    await log.append(values(0, 1));
    const before = syncs;
    const firsts = await Promise.all([log.append([Buffer.from("mark")], { type: 3, term: 2 }), log.append(values(1, 3), { term: 2 }), log.append(values(4, 1), { term: 3 })]);
    assert.deepEqual(firsts, [1, 2, 5]);
    assert.equal(syncs - before, 1, "one fdatasync for the three appends");
    assert.deepEqual(log.readRange(1, { countMax: 5 }).map((r) => [r.term, r.type]), [[2, 3], [2, 0], [2, 0], [2, 0], [3, 0]]);
  });

  test("appends made while a commit is written are framed together when it ends: in call order, one run per kind, across a rotation", async (t) => {
    const value = (i: number): Buffer => Buffer.from(String(i).padStart(8, "0"));
    const full = FULL_HEADER_BYTES + 8;
    const compact = COMPACT_HEADER_BYTES + 8;
    // Room for the first append and a run of 60 records: the 100 held behind it cross into a second segment.
    const log = await Log.open(await tempDir(t), { ...small, storeBytesMax: 2 * full + 59 * compact, clock: () => 1_700_000_000_000 });
    cleanup(t, () => log.close());
    const writing = log.append([value(0)]);
    // Made once the first one's write is under way (its run starts it a microtask after the call):
    // each waits for it to end.
    await Promise.resolve();
    const held = Array.from({ length: 100 }, (_, i) => log.append([value(i + 1)]));
    assert.deepEqual(await Promise.all([writing, ...held]), Array.from({ length: 101 }, (_, i) => i), "call order");
    for (let i = 0; i <= 100; i++) assert.deepEqual(log.read(i).value, value(i));
    assert.equal(log.segmentCount, 2);
    assert.equal(log.storeBytes, 3 * full + 98 * compact, "the 100 held records are one run: a full frame in each segment, the others compact");

    // Appends that cannot share a run (their own term, type or creation time; several batches
    // appended as one) break it, each keeps its options, and the plain ones either side still join.
    const mixed = [
      log.append(values(200, 1)),
      log.append([Buffer.from("a")]),
      log.append([Buffer.from("b")]),
      log.append([Buffer.from("c")], { term: 4 }),
      log.append([Buffer.from("d")], { timestampMs: 5 }),
      log.append([Buffer.from("e"), Buffer.from("f")], { type: 3 }),
      log.append([Buffer.from("g")]),
      log.append([Buffer.from("h"), Buffer.from("i")]),
    ];
    const firsts = await Promise.all(mixed);
    assert.deepEqual(firsts, [101, 102, 103, 104, 105, 106, 108, 109]);
    const records = log.readRange(102, { countMax: 10 });
    assert.deepEqual(
      records.map((r) => [r.value.toString(), r.term, r.type, r.timestampMs]),
      [
        ["a", 0, 0, 1_700_000_000_000],
        ["b", 0, 0, 1_700_000_000_000],
        ["c", 4, 0, 1_700_000_000_000],
        ["d", 0, 0, 1_700_000_000_000],
        ["e", 0, 3, 1_700_000_000_000],
        ["f", 0, 3, 1_700_000_000_000],
        ["g", 0, 0, 1_700_000_000_000],
        ["h", 0, 0, 1_700_000_000_000],
        ["i", 0, 0, 1_700_000_000_000],
      ],
    );
  });

  test("batches of every size in flight at once, across rotations, each store exactly their own records (frames memory is used again only once written)", async (t) => {
    const log = await Log.open(await tempDir(t), { recordBytesMax: 1024, batchBytesMax: 1 << 20, pendingBytesMax: 4 << 20, storeBytesMax: 512 << 10 });
    cleanup(t, () => log.close());
    // Each appender sends its next batch as soon as its last is durable, so new batches are framed
    // while earlier ones wait for their commit or are being written. Batches of up to 120 kB, so
    // that most frames are in pooled memory; the values of each lie apart, so they are packed too.
    const stored: Array<{ first: number; batch: Buffer[] }> = [];
    await Promise.all(
      Array.from({ length: 6 }, async (_, appender) => {
        for (let round = 0; round < 15; round++) {
          const from = (appender * 100 + round) * 1000;
          const batch = values(from, 1 + ((appender * 37 + round * 53) % 300)).map((value) => Buffer.concat([value, Buffer.alloc(400, round)]));
          stored.push({ first: await log.append(batch), batch });
        }
      }),
    );
    for (const { first, batch } of stored) batch.forEach((value, i) => assert.ok(log.read(first + i).value.equals(value), `record ${first + i}`));
    assert.ok(log.segmentCount > 5, "the batches crossed segments");
  });

  test("initialOffset starts an empty log there and is ignored once the log has segments", async (t) => {
    const dir = await tempDir(t);
    const log = await Log.open(dir, { initialOffset: 1000 });
    assert.equal(await log.append(values(0, 2)), 1000);
    assert.equal(log.read(1001).value.toString(), "record-1");
    assert.throws(() => log.read(999), OffsetOutOfRangeError);
    await log.close();
    const reopened = await Log.open(dir, { initialOffset: 5 });
    cleanup(t, () => reopened.close());
    assert.deepEqual([reopened.lowestOffset, reopened.nextOffset], [1000, 1002]);
  });
});

describe("rotation", () => {
  test("a segment rotates exactly when the index is full", async (t) => {
    const log = await Log.open(await tempDir(t), { ...small, indexEntriesMax: 7 });
    cleanup(t, () => log.close());
    await appendOneByOne(log, 0, 7);
    assert.equal(log.segmentCount, 1, "rotation is lazy: the 7th record fills the segment without opening another");
    await log.append(values(7, 1));
    assert.equal(log.segmentCount, 2);
    await log.append(values(8, 13));
    assert.equal(log.segmentCount, 3, "21 records in segments of 7");
    assertHolds(log, 0, 21);
  });

  test("a segment rotates before its store would pass storeBytesMax, also when that is not a multiple of a record", async (t) => {
    // Each single-record append is a run of its own, so every record takes a full frame.
    const frame = FULL_HEADER_BYTES + "record-0".length;
    const log = await Log.open(await tempDir(t), { ...small, storeBytesMax: 3 * frame + frame - 1 });
    cleanup(t, () => log.close());
    await appendOneByOne(log, 0, 3);
    assert.equal(log.segmentCount, 1);
    await appendOneByOne(log, 3, 1);
    assert.equal(log.segmentCount, 2, "a fourth frame would exceed the limit by one byte");
    await appendOneByOne(log, 4, 6);
    assert.equal(log.segmentCount, 4);
    assertHolds(log, 0, 10);
  });

  test("a batch fills a segment to the byte with compact frames after the first", async (t) => {
    const full = FULL_HEADER_BYTES + "record-0".length;
    const compact = COMPACT_HEADER_BYTES + "record-0".length;
    const log = await Log.open(await tempDir(t), { ...small, storeBytesMax: full + 4 * compact });
    cleanup(t, () => log.close());
    await log.append(values(0, 9));
    assert.equal(log.segmentCount, 2, "5 records fit in the first segment, 4 in the second");
    assert.deepEqual(log.readRange(0, { countMax: 5 }).map((r) => r.offset), [0, 1, 2, 3, 4]);
    assertHolds(log, 0, 9);
  });

  test("a batch larger than a segment is spread over several, and reopening continues the offsets", async (t) => {
    const dir = await tempDir(t);
    const log = await Log.open(dir, { ...small, indexEntriesMax: 10 });
    assert.equal(await log.append(values(0, 45)), 0);
    assert.equal(log.segmentCount, 5);
    await log.close();
    const reopened = await Log.open(dir, { ...small, indexEntriesMax: 10 });
    cleanup(t, () => reopened.close());
    assert.deepEqual([reopened.recovery.segments, reopened.nextOffset], [5, 45]);
    assert.equal(await reopened.append(values(45, 10)), 45);
    assertHolds(reopened, 0, 55);
  });
});

describe("memory", () => {
  test("sealed segments' indexes leave the resident set, also after reads bring their pages back", async (t) => {
    const rssFileBytes = async (): Promise<number> => Number(/RssFile:\s+(\d+) kB/.exec(await readFile("/proc/self/status", "utf8"))![1]) * 1024;
    t.mock.timers.enable({ apis: ["setInterval"] });
    const entries = 64 * 1024; // a 512 KiB index per segment
    const log = await Log.open(await tempDir(t), { indexEntriesMax: entries });
    cleanup(t, () => log.close());
    const batch = Array.from({ length: 8 * 1024 }, () => Buffer.of(1));
    await log.append(batch);
    const before = await rssFileBytes();
    for (let i = 1; i < 40 * 8; i++) await log.append(batch); // 40 segments: 20 MiB of index written
    assert.equal(log.segmentCount, 40);
    const written = (await rssFileBytes()) - before;
    assert.ok(written < 4 * MIB, `resident file pages grew by ${(written / MIB).toFixed(1)} MiB for 20 MiB of index written`);
    for (let offset = 0; offset < log.nextOffset; offset += 512) assert.equal(log.read(offset).value[0], 1); // a read per index page
    const read = (await rssFileBytes()) - before;
    assert.ok(read > 16 * MIB, `reading every page brings them back (${(read / MIB).toFixed(1)} MiB)`);
    t.mock.timers.tick(10_000);
    const released = (await rssFileBytes()) - before;
    assert.ok(released < 4 * MIB, `and they are released again (${(released / MIB).toFixed(1)} MiB)`);
  });
});

describe("range reads", () => {
  test("readRange crosses segment boundaries and honours count and byte budgets", async (t) => {
    const log = await Log.open(await tempDir(t), { ...small, indexEntriesMax: 4 });
    cleanup(t, () => log.close());
    await log.append(values(0, 10));
    assert.deepEqual(log.readRange(2, { countMax: 7 }).map((r) => r.offset), [2, 3, 4, 5, 6, 7, 8]);
    // Segment [0, 4) holds one full frame and three compact ones; the next segment starts full.
    const full = FULL_HEADER_BYTES + "record-0".length;
    const compact = COMPACT_HEADER_BYTES + "record-0".length;
    assert.equal(log.readRange(0, { bytesMax: 2 * full + 3 * compact }).length, 5);
    assert.equal(log.readRange(0, { bytesMax: 2 * full + 3 * compact - 1 }).length, 4);
    assert.equal(log.readRange(1, { countMax: 2 })[0]!.timestampMs, log.read(0).timestampMs, "a read from inside a run gets the run's metadata");
    assert.equal(log.readRange(9, { bytesMax: 0 }).length, 1, "at least one record, even past the budget");
    assert.deepEqual(log.readRange(6).map((r) => r.value.toString()), values(6, 4).map(String));
  });

  test("readFrames returns stored frames that verify at their offsets and decode to the records", async (t) => {
    const source = await Log.open(await tempDir(t), { term: undefined } as never).catch((error: unknown) => error);
    assert.ok(source instanceof InvalidConfigError, "unknown config fields are rejected");
    const log = await Log.open(await tempDir(t), { ...small, indexEntriesMax: 6 });
    cleanup(t, () => log.close());
    await log.append(values(0, 5), { term: 2 });
    await log.append(values(5, 5), { term: 3 });
    const records: LogRecord[] = [];
    for (let at = 0; at < log.nextOffset; ) {
      const raw = log.readFrames(at, { bytesMax: 200 });
      assert.equal(raw.firstOffset, at);
      assert.equal(native.verifyFrames(raw.frames, at), raw.count, "intact and consecutive, the first full even inside a run");
      records.push(...decodeFrames(raw.frames, at));
      at += raw.count;
    }
    assert.deepEqual(records, log.readRange(0));
    assert.equal(records[7]!.term, 3);
    const first = log.readFrames(0, { countMax: 1 }).frames;
    assert.throws(() => native.verifyFrames(first, 1), { code: "DATA_LOSS" }, "frames verify only at their own offsets");
  });
});

describe("time index", () => {
  test("offsetForTime finds the first record at or after a time, across segments", async (t) => {
    let now = 1000;
    const log = await Log.open(await tempDir(t), { ...small, indexEntriesMax: 3, clock: () => now });
    cleanup(t, () => log.close());
    for (let i = 0; i < 10; i++) {
      now = 1000 + 10 * i;
      await log.append(values(2 * i, 2));
    }
    assert.equal(log.offsetForTime(0), 0);
    assert.equal(log.offsetForTime(1000), 0);
    assert.equal(log.offsetForTime(1001), 2);
    assert.equal(log.offsetForTime(1050), 10);
    assert.equal(log.offsetForTime(1090), 18);
    assert.equal(log.offsetForTime(1091), undefined);
  });

  test("timestamps never go backwards when the clock does, and survive reopening", async (t) => {
    const dir = await tempDir(t);
    let now = 5000;
    const log = await Log.open(dir, { clock: () => now });
    await log.append(values(0, 1));
    now = 4000;
    await log.append(values(1, 1));
    assert.equal(log.read(1).timestampMs, 5000);
    await log.close();
    const reopened = await Log.open(dir, { clock: () => now });
    cleanup(t, () => reopened.close());
    await reopened.append(values(2, 1));
    assert.equal(reopened.read(2).timestampMs, 5000);
    assert.equal(reopened.offsetForTime(4500), 0);
  });
});

describe("truncateAfter and dropBefore", () => {
  test("truncateAfter inside a segment keeps the prefix and continues right after it", async (t) => {
    const dir = await tempDir(t);
    const log = await Log.open(dir, { ...small, indexEntriesMax: 5 });
    await log.append(values(0, 12));
    await log.truncateAfter(7);
    assert.deepEqual([log.nextOffset, log.segmentCount], [8, 2]);
    assert.throws(() => log.read(8), OffsetOutOfRangeError);
    assert.equal(await log.append([Buffer.from("new-8")]), 8);
    await log.close();
    const reopened = await Log.open(dir, { ...small, indexEntriesMax: 5 });
    cleanup(t, () => reopened.close());
    assertHolds(reopened, 0, 8);
    assert.equal(reopened.read(8).value.toString(), "new-8");
    assert.equal(reopened.nextOffset, 9);
  });

  test("truncateAfter at a segment boundary, to before the first record, and past the end", async (t) => {
    const log = await Log.open(await tempDir(t), { ...small, indexEntriesMax: 5 });
    cleanup(t, () => log.close());
    await log.append(values(0, 15));
    await log.truncateAfter(20);
    assert.equal(log.nextOffset, 15, "past the end is a no-op");
    await log.truncateAfter(9);
    assert.deepEqual([log.nextOffset, log.segmentCount], [10, 3], "the segment at 10 stays, empty, as the active one");
    await log.truncateAfter(4);
    assert.deepEqual([log.nextOffset, log.segmentCount], [5, 2]);
    await log.truncateAfter(-1);
    assert.deepEqual([log.nextOffset, log.highestOffset, log.segmentCount], [0, undefined, 1]);
    await assert.rejects(log.truncateAfter(-2), OffsetOutOfRangeError);
    await log.append(values(0, 7));
    assertHolds(log, 0, 7);
  });

  test("a sealed segment holds one file descriptor, and one made active again by a truncation grows its indexes", async (t) => {
    const dir = await tempDir(t);
    /** How many of the files this process holds open in the log's directory end with each suffix. */
    const openFiles = (): Record<string, number> => {
      const counts: Record<string, number> = {};
      for (const fd of readdirSync("/proc/self/fd")) {
        let path: string;
        try {
          path = readlinkSync(`/proc/self/fd/${fd}`);
        } catch {
          continue;
        }
        if (!path.startsWith(dir)) continue;
        const suffix = path === dir ? "directory" : path.slice(path.lastIndexOf("."));
        counts[suffix] = (counts[suffix] ?? 0) + 1;
      }
      return counts;
    };
    const config: Partial<LogConfig> = { ...small, indexEntriesMax: 4096, storeBytesMax: 256 * 1024, durability: "none" };
    const log = await Log.open(dir, config);
    cleanup(t, () => log.close());
    // Each append its own run (its own creation time), so the run index grows by one entry per append.
    let timestampMs = 1;
    const appendRuns = async (count: number): Promise<void> => {
      for (let i = 0; i < count; i++) await log.append([Buffer.from([i % 256])], { timestampMs: timestampMs++ });
    };
    await appendRuns(10);
    await log.append(Array.from({ length: 4000 }, () => Buffer.alloc(60)), { timestampMs: timestampMs++ });
    await log.append(Array.from({ length: 4000 }, () => Buffer.alloc(60)), { timestampMs: timestampMs++ });
    assert.ok(log.segmentCount >= 3, `${log.segmentCount} segments`);
    // The locked directory, every segment's store, and the active segment's two index files only.
    assert.deepEqual(openFiles(), { directory: 1, ".store": log.segmentCount, ".index": 1, ".runindex": 1 });
    // Back into the first segment, whose run index had room reserved for 2,049 entries: 3,000 more runs must open it again to grow it.
    await log.truncateAfter(4);
    assert.equal(log.segmentCount, 1);
    await appendRuns(3000);
    assert.equal(log.nextOffset, 3005);
    assert.equal(log.read(3004).timestampMs, timestampMs - 1);
    assert.deepEqual(openFiles(), { directory: 1, ".store": 1, ".runindex": 1 }, "the run index open again (the index had room to spare)");
    // Sealed again, reopened (sealed at open, its index files closed), and truncated into: the index file opens again to grow.
    await log.append(Array.from({ length: 4000 }, () => Buffer.alloc(60)), { timestampMs: timestampMs++ });
    await log.close();
    const reopened = await Log.open(dir, config);
    cleanup(t, () => reopened.close());
    assert.deepEqual(openFiles(), { directory: 1, ".store": reopened.segmentCount, ".index": 1, ".runindex": 1 });
    await reopened.truncateAfter(9);
    assert.equal(await reopened.append([Buffer.from("after")], { timestampMs: timestampMs++ }), 10);
    assert.equal(reopened.read(10).value.toString(), "after");
    assert.equal(openFiles()[".index"], 1);
  });

  test("resetTo empties the log and restarts it at any offset, durably", async (t) => {
    const dir = await tempDir(t);
    const log = await Log.open(dir, { ...small, indexEntriesMax: 5 });
    await log.append(values(0, 12), { term: 4 });
    assert.equal(log.termAt(11), 4);
    await log.resetTo(5);
    assert.deepEqual([log.lowestOffset, log.nextOffset, log.highestOffset, log.segmentCount], [5, 5, undefined, 1]);
    assert.throws(() => log.read(5), OffsetOutOfRangeError);
    assert.equal(await log.append(values(5, 3), { term: 6 }), 5);
    await log.resetTo(1000);
    assert.equal(await log.append(values(1000, 2), { term: 7 }), 1000);
    await log.close();
    const reopened = await Log.open(dir, { ...small, indexEntriesMax: 5 });
    cleanup(t, () => reopened.close());
    assert.deepEqual([reopened.lowestOffset, reopened.nextOffset, reopened.termAt(1001)], [1000, 1002, 7]);
    assertHolds(reopened, 1000, 2);
  });

  test("dropBefore deletes only whole segments below the offset and never the active one", async (t) => {
    const dir = await tempDir(t);
    const log = await Log.open(dir, { ...small, indexEntriesMax: 5 });
    await log.append(values(0, 17));
    assert.equal(await log.dropBefore(4), 0, "segment [0,5) still holds offset 4");
    assert.equal(await log.dropBefore(5), 5);
    assert.equal(await log.dropBefore(12), 10);
    assert.throws(() => log.read(9), OffsetOutOfRangeError);
    assert.equal(await log.dropBefore(1000), 15, "the active segment stays");
    await assert.rejects(log.waitFor(3), OffsetOutOfRangeError, "waiting below the lowest offset is an error");
    await log.close();
    const reopened = await Log.open(dir, { ...small, indexEntriesMax: 5 });
    cleanup(t, () => reopened.close());
    assert.deepEqual([reopened.lowestOffset, reopened.nextOffset], [15, 17]);
    assertHolds(reopened, 15, 2);
  });
});

describe("term lookups", () => {
  const terms = (log: Log, from: number, end: number): number[] => Array.from({ length: end - from }, (_, i) => log.termAt(from + i));

  test("termAt reads no store: appended runs and checked runs answer after the store is gone, unchecked ones are still checked", async (t) => {
    const dir = await tempDir(t);
    const log = await Log.open(dir, small);
    await log.append(values(0, 3), { term: 1 });
    await log.append(values(3, 3), { term: 2 });
    await log.append(values(6, 3), { term: 3 });
    await log.close();
    const reopened = await Log.open(dir, small);
    cleanup(t, () => reopened.close());
    await reopened.append(values(9, 2), { term: 4 });
    assert.equal(reopened.termAt(1), 1, "a run kept from the run index file is checked against the store once");
    // From here on every read of the store fails (the file is shorter than the index says): a term
    // lookup that reads the store answers DataLossError.
    await truncate(segmentFile(dir, 0, ".store"), 0);
    assert.throws(() => reopened.read(1), DataLossError);
    assert.deepEqual(terms(reopened, 0, 3), [1, 1, 1], "the checked run answers from memory");
    assert.deepEqual(terms(reopened, 6, 11), [3, 3, 3, 4, 4], "runs recovery read and runs appended since answer from memory");
    assert.throws(() => reopened.termAt(4), DataLossError, "a run never checked against the store is not trusted");
  });

  test("termAt stays exact across truncation, dropBefore, reopening and resetTo", async (t) => {
    const dir = await tempDir(t);
    const config = { ...small, indexEntriesMax: 4 };
    const log = await Log.open(dir, config);
    await log.append(values(0, 6), { term: 1 });
    await log.append(values(6, 4), { term: 2 });
    assert.deepEqual(terms(log, 0, 10), [1, 1, 1, 1, 1, 1, 2, 2, 2, 2]);
    await log.truncateAfter(6);
    await log.append(values(7, 3), { term: 3 });
    assert.deepEqual(terms(log, 0, 10), [1, 1, 1, 1, 1, 1, 2, 3, 3, 3], "a cut inside a run keeps its head, and new runs replace the rest");
    await log.truncateAfter(3);
    assert.throws(() => log.termAt(4), OffsetOutOfRangeError);
    await log.append(values(4, 5), { term: 5 });
    assert.deepEqual(terms(log, 0, 9), [1, 1, 1, 1, 5, 5, 5, 5, 5], "a cut at a segment's end, then a new segment");
    assert.equal(await log.dropBefore(4), 4);
    assert.throws(() => log.termAt(3), OffsetOutOfRangeError);
    await log.close();
    const reopened = await Log.open(dir, config);
    cleanup(t, () => reopened.close());
    assert.deepEqual(terms(reopened, 4, 9), [5, 5, 5, 5, 5], "recovered runs answer the same");
    await reopened.truncateAfter(5);
    await reopened.append(values(6, 2), { term: 6 });
    assert.deepEqual(terms(reopened, 4, 8), [5, 5, 6, 6], "runs cut and appended after a reopen");
    await reopened.resetTo(100);
    await reopened.append(values(100, 2), { term: 7 });
    assert.deepEqual(terms(reopened, 100, 102), [7, 7]);
    assert.throws(() => reopened.termAt(4), OffsetOutOfRangeError);
  });
});

describe("retention", () => {
  // Segments of 10 records of 10 bytes: one full frame and nine compact ones.
  const segmented = { indexEntriesMax: 10 };
  const segmentBytes = FULL_HEADER_BYTES + 10 + 9 * (COMPACT_HEADER_BYTES + 10);
  const ten = (from: number): Buffer[] => Array.from({ length: 10 }, (_, i) => Buffer.from(String(from + i).padStart(10, "0")));

  test("by bytes: the oldest sealed segments go once the log is over budget, never the active one", async (t) => {
    const log = await Log.open(await tempDir(t), { ...segmented, retentionBytes: 3 * segmentBytes });
    cleanup(t, () => log.close());
    assert.equal(await log.enforceRetention(), 0, "nothing to drop in an empty log");
    for (let from = 0; from < 60; from += 10) await log.append(ten(from));
    assert.equal(log.segmentCount, 6);
    assert.equal(await log.enforceRetention(), 30, "three segments fit the budget");
    assert.throws(() => log.read(29), OffsetOutOfRangeError);
    assert.equal(log.read(30).value.toString(), "0000000030");
    assert.equal(await log.enforceRetention(), 30, "applying it again changes nothing");
    const tiny = await Log.open(await tempDir(t), { ...segmented, retentionBytes: 1 });
    cleanup(t, () => tiny.close());
    for (let from = 0; from < 25; from += 5) await tiny.append(ten(from).slice(0, 5));
    assert.equal(await tiny.enforceRetention(), 20, "a budget below one segment keeps the active one");
  });

  test("by age: segments whose records are all older than the limit go, measured on the log's clock", async (t) => {
    let now = 1_000_000;
    const log = await Log.open(await tempDir(t), { ...segmented, retentionMs: 60_000, clock: () => now });
    cleanup(t, () => log.close());
    for (let from = 0; from < 40; from += 10) {
      await log.append(ten(from));
      now += 30_000; // each segment's records are 30 s younger than the one before
    }
    // Records now at ages 120, 90, 60 and 30 s.
    assert.equal(await log.enforceRetention(), 10, "only the first segment is entirely older than 60 s");
    now += 45_000;
    assert.equal(await log.enforceRetention(), 30, "the rest but the active segment, which always stays");
    assert.equal(log.read(39).value.toString(), "0000000039");
  });
});

describe("errors and limits", () => {
  test("reads outside the log give OUT_OF_RANGE with the offset, up to 2^64-1", async (t) => {
    const log = await Log.open(await tempDir(t));
    cleanup(t, () => log.close());
    await log.append(values(0, 3));
    for (const offset of [3, 4n, 2n ** 53n, 2n ** 64n - 1n]) {
      assert.throws(
        () => log.read(offset),
        (error: unknown) =>
          error instanceof OffsetOutOfRangeError &&
          error.rpcCode === RpcCode.outOfRange &&
          error.message === `offset out of range: ${offset}`,
      );
    }
    assert.throws(() => log.readRange(2n ** 64n - 1n), OffsetOutOfRangeError);
    assert.throws(() => log.read(-1), OffsetOutOfRangeError);
    assert.throws(() => log.read(1.5), InvalidArgumentError);
  });

  test("a batch whose new segment cannot be created is refused whole, reserving nothing: the next takes its offsets and the log stays writable, alone or held behind a write", async (t) => {
    const dir = await tempDir(t);
    const log = await Log.open(dir, { ...small, indexEntriesMax: 4 });
    cleanup(t, () => log.close());
    await log.append(values(0, 3));
    // The next segment starts at offset 4 and its store cannot be created: its name is a directory's.
    await mkdir(segmentFile(dir, 4, ".store"));
    // Alone: the batch would put its first record at offset 3, in the segment with room, and the rest past it.
    await assert.rejects(log.append(values(3, 3)), (error: unknown) => error instanceof StorageIoError && /EISDIR|directory/i.test(error.message));
    // Held behind a write (made in the same turn, they are framed before it starts, to share it):
    // each append or run that needs the new segment is refused by itself, the first is written.
    const writing = log.append(values(3, 1));
    const held = Promise.allSettled([log.append(values(4, 1)), log.append(values(4, 2), { term: 2 }), log.append(values(5, 1))]);
    assert.equal(await writing, 3);
    for (const outcome of await held) assert.ok(outcome.status === "rejected" && outcome.reason instanceof StorageIoError, "refused");
    assert.equal(log.nextOffset, 4);
    assert.equal(log.segmentCount, 1, "no segment was left half made");

    // Once the segment can be created, appends go on at offset 4, with no gap left by the refused ones.
    await rm(segmentFile(dir, 4, ".store"), { recursive: true });
    assert.equal(await log.append(values(4, 3)), 4);
    assertHolds(log, 0, 7);

    // A batch over two new segments, the second of which cannot be created: the first is discarded too.
    await mkdir(segmentFile(dir, 12, ".store"));
    await assert.rejects(log.append(values(7, 6)), StorageIoError);
    assert.equal(log.segmentCount, 2);
    await assert.rejects(readFile(segmentFile(dir, 8, ".store")), { code: "ENOENT" });
    await rm(segmentFile(dir, 12, ".store"), { recursive: true });
    assert.equal(await log.append(values(7, 6)), 7);
    assertHolds(log, 0, 13);
    await log.close();
    const reopened = await Log.open(dir, { ...small, indexEntriesMax: 4 });
    cleanup(t, () => reopened.close());
    assert.equal(reopened.nextOffset, 13);
    assertHolds(reopened, 0, 13);
  });

  test("oversized records and batches are refused with typed errors and nothing is written", async (t) => {
    const log = await Log.open(await tempDir(t), { recordBytesMax: 100, batchBytesMax: 1000, pendingBytesMax: 1000 });
    cleanup(t, () => log.close());
    await assert.rejects(log.append([Buffer.alloc(101)]), RecordTooLargeError);
    await assert.rejects(log.append(Array.from({ length: 15 }, () => Buffer.alloc(60))), BatchTooLargeError);
    await assert.rejects(log.append([]), InvalidArgumentError);
    await assert.rejects(log.append(["text" as unknown as Uint8Array]), InvalidArgumentError);
    await assert.rejects(log.append([Buffer.alloc(1)], { term: -1 }), InvalidArgumentError);
    assert.equal(log.nextOffset, 0);
    assert.equal(await log.append([Buffer.alloc(100)]), 0);
  });

  test("invalid configuration is refused at open with the field named", async (t) => {
    const dir = await tempDir(t);
    const cases: Array<[Partial<LogConfig>, RegExp]> = [
      [{ storeBytesMax: 10 }, /storeBytesMax/],
      [{ indexEntriesMax: 0 }, /indexEntriesMax/],
      [{ recordBytesMax: 2 ** 30 }, /recordBytesMax/],
      [{ initialOffset: -1 }, /initialOffset/],
      [{ durability: "sometimes" as never }, /durability/],
      [{ pendingBytesMax: 1 }, /pendingBytesMax/],
      [{ retentionBytes: -1 }, /retentionBytes/],
      [{ retentionMs: 1.5 }, /retentionMs/],
    ];
    for (const [config, message] of cases) {
      await assert.rejects(Log.open(dir, config), (error: unknown) => error instanceof InvalidConfigError && message.test(error.message));
    }
  });

  test("a directory that cannot be made is refused at once with the reason: under /proc (where Node's recursive mkdir spins for good), or under a file", async (t) => {
    const file = join(await tempDir(t), "file");
    await writeFile(file, "");
    const refusal = async (path: string): Promise<unknown> => {
      const waited = new AbortController();
      try {
        return await Promise.race([Log.open(path).then(() => "opened", (error: unknown) => error), delay(5_000, "still trying after 5 s", { signal: waited.signal })]);
      } finally {
        waited.abort();
      }
    };
    assert.equal(((await refusal("/proc/loghouse-nowhere/data")) as NodeJS.ErrnoException).code, "ENOENT");
    assert.equal(((await refusal(join(file, "data"))) as NodeJS.ErrnoException).code, "ENOTDIR");
    // And what can be made is, parents and all.
    const deep = join(await tempDir(t), "a", "b", "c");
    const log = await Log.open(deep);
    cleanup(t, () => log.close());
    assert.equal(await log.append([Buffer.from("x")]), 0);
  });

  test("a second open of the same directory is refused while the first holds it", async (t) => {
    const dir = await tempDir(t);
    const log = await Log.open(dir);
    await assert.rejects(Log.open(dir), LogLockedError);
    await log.close();
    const again = await Log.open(dir);
    await again.close();
  });

  test("a closed log refuses work and wakes its waiters", async (t) => {
    const log = await Log.open(await tempDir(t));
    const waiting = assert.rejects(log.waitFor(5), LogClosedError);
    const pending = log.append(values(0, 1));
    await log.close();
    assert.equal(await pending, 0, "appends queued before close complete");
    await waiting;
    await assert.rejects(log.append(values(1, 1)), LogClosedError);
    assert.throws(() => log.read(0), LogClosedError);
  });
});

describe("waiting and backpressure", () => {
  test("waitFor resolves when the offset is committed and honours abort", async (t) => {
    const log = await Log.open(await tempDir(t));
    cleanup(t, () => log.close());
    const controller = new AbortController();
    const aborted = log.waitFor(0, controller.signal);
    const waiting = log.waitFor(1);
    controller.abort(new Error("stop"));
    await assert.rejects(aborted, /stop/);
    await log.append(values(0, 2));
    await waiting;
    assert.equal(log.read(1).value.toString(), "record-1");
  });

  test("appends beyond pendingBytesMax wait their turn and all complete in order", async (t) => {
    const batchBytes = FULL_HEADER_BYTES + COMPACT_HEADER_BYTES + 200;
    const log = await Log.open(await tempDir(t), { recordBytesMax: 100, batchBytesMax: batchBytes, pendingBytesMax: batchBytes });
    cleanup(t, () => log.close());
    const offsets = await Promise.all(Array.from({ length: 50 }, () => log.append([Buffer.alloc(100, 1), Buffer.alloc(100, 2)])));
    assert.deepEqual(offsets, Array.from({ length: 50 }, (_, i) => 2 * i));
  });

  for (const durability of ["interval", "none"] as const) {
    test(`durability "${durability}" appends, reopens and keeps every record after close`, async (t) => {
      const dir = await tempDir(t);
      const log = await Log.open(dir, { ...small, durability, syncIntervalMs: 5, indexEntriesMax: 8 });
      await Promise.all(values(0, 30).map((value) => log.append([value])));
      await log.close();
      const reopened = await Log.open(dir, { ...small, indexEntriesMax: 8 });
      cleanup(t, () => reopened.close());
      assert.equal(reopened.nextOffset, 30);
      assert.deepEqual(new Set(reopened.readRange(0).map((r) => r.value.toString())), new Set(values(0, 30).map(String)));
    });
  }
});
