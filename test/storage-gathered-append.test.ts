// Appends of values gathered in one buffer (GatheredValues, as a ProduceBatch request decodes): the
// native encode frames them byte for byte as the frame layout (native/frame.h) says and as it frames
// the same values packed end to end; the log stores them exactly as it stores the same values given
// as an array, across segments; and it refuses the same batches with the same typed errors. An array
// of views apart in one buffer (a Raft leader's entries) is stored as the same values copied.
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { BatchTooLargeError, InvalidArgumentError, RecordTooLargeError } from "../src/errors.ts";
import { Log, type GatheredValues } from "../src/storage/index.ts";
import { checkBatch, measureValues } from "../src/storage/append-batch.ts";
import { encodedBytes } from "../src/storage/frame.ts";
import { native } from "../src/storage/native.ts";
import { cleanup } from "./support/cleanup.ts";
import { tempDir } from "./support/temp-dir.ts";
import { TestRandom } from "./support/test-random.ts";

const CRC32C_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  return c >>> 0;
});

function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC32C_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

interface Metadata {
  readonly term: number;
  readonly timestampMs: number;
  readonly type: number;
}

/** The frames of `values` from `firstOffset` on, written from the layout in native/frame.h: an independent reference. */
function referenceFrames(values: readonly Uint8Array[], firstOffset: number, metadata: Metadata): Buffer {
  const frames: Buffer[] = values.map((value, i) => {
    const full = i === 0;
    const frame = Buffer.alloc((full ? 32 : 8) + value.length);
    frame.writeUInt32LE((value.length | (full ? 0x8000_0000 : 0)) >>> 0, 4);
    if (full) {
      frame.writeBigUInt64LE(BigInt(metadata.term), 8);
      frame.writeBigUInt64LE(BigInt(metadata.timestampMs), 16);
      frame.writeUInt32LE(metadata.type, 24);
    }
    frame.set(value, full ? 32 : 8);
    const offset = Buffer.alloc(8);
    offset.writeBigUInt64LE(BigInt(firstOffset + i));
    frame.writeUInt32LE(crc32c(Buffer.concat([offset, frame.subarray(4)])), 0);
    return frame;
  });
  return Buffer.concat(frames);
}

/**
 * `values` laid in one buffer as a ProduceBatch request lays them: in order, each behind a few bytes
 * that are not part of it (its tag and length), with more bytes at the end.
 */
function gathered(values: readonly Uint8Array[], random: TestRandom): GatheredValues {
  const offsets = new Uint32Array(values.length);
  const lengths = new Uint32Array(values.length);
  const pieces: Buffer[] = [];
  let at = 0;
  values.forEach((value, i) => {
    const gap = random.bytes(random.int(0, 6));
    pieces.push(gap, Buffer.from(value));
    offsets[i] = at + gap.length;
    lengths[i] = value.length;
    at += gap.length + value.length;
  });
  pieces.push(random.bytes(random.int(0, 4)));
  return { bytes: Buffer.concat(pieces), offsets, lengths };
}

/** `values` packed end to end, as the log lays out an array of values that do not already lie so. */
function packed(values: readonly Uint8Array[]): GatheredValues {
  const lengths = Uint32Array.from(values, (value) => value.length);
  const offsets = new Uint32Array(values.length);
  for (let i = 1; i < values.length; i++) offsets[i] = offsets[i - 1]! + lengths[i - 1]!;
  return { bytes: Buffer.concat(values), offsets, lengths };
}

/** Between 1 and 40 values of 0 to 299 bytes, about one in five empty. */
function randomValues(random: TestRandom): Buffer[] {
  return Array.from({ length: random.int(1, 41) }, () => random.bytes(random.int(0, 5) === 0 ? 0 : random.int(1, 300)));
}

/** Frames encoded into memory that held other bytes before (as memory used again does). */
function encode(batch: GatheredValues, firstOffset: number, metadata: Metadata): Buffer {
  const valueBytes = batch.lengths.reduce((sum, length) => sum + length, 0);
  const into = Buffer.alloc(encodedBytes(batch.lengths.length, valueBytes), 0xee);
  native.encode(batch.bytes, batch.offsets, batch.lengths, firstOffset, metadata.term, metadata.timestampMs, metadata.type, into);
  return into;
}

describe("native encode of gathered values", () => {
  test("frames values where they lie exactly as it frames them packed, and as the frame layout says", (t) => {
    const random = TestRandom.forTest(t);
    for (let round = 0; round < 300; round++) {
      const values = randomValues(random);
      const firstOffset = random.int(0, 2 ** 31) * random.int(1, 2 ** 21);
      const metadata = { term: random.int(0, 2 ** 31), timestampMs: random.int(1, 2 ** 31) * 1000, type: random.int(0, 2 ** 31) * 2 };
      const expected = referenceFrames(values, firstOffset, metadata);
      assert.deepEqual(encode(packed(values), firstOffset, metadata), expected, `round ${round}: packed`);
      assert.deepEqual(encode(gathered(values, random), firstOffset, metadata), expected, `round ${round}: gathered`);
      assert.equal(native.verifyFrames(expected, firstOffset), values.length);
    }
  });

  test("refuses a value that runs past its bytes, offsets and lengths of different counts, and memory not exactly the frames' size or overlapping the values", () => {
    const bytes = Buffer.alloc(10);
    const into = Buffer.alloc(32 + 6);
    assert.throws(() => native.encode(bytes, Uint32Array.of(5), Uint32Array.of(6), 0, 0, 1, 0, into), TypeError);
    assert.throws(() => native.encode(bytes, Uint32Array.of(0xffff_ffff), Uint32Array.of(1), 0, 0, 1, 0, into), TypeError);
    assert.throws(() => native.encode(bytes, Uint32Array.of(0, 1), Uint32Array.of(1), 0, 0, 1, 0, into), TypeError);
    assert.throws(() => native.encode(bytes, new Uint32Array(0), new Uint32Array(0), 0, 0, 1, 0, into), TypeError);
    assert.throws(() => native.encode(bytes, Uint32Array.of(4), Uint32Array.of(6), 0, 0, 1, 0, Buffer.alloc(32 + 7)), TypeError);
    assert.throws(() => native.encode(bytes, Uint32Array.of(4), Uint32Array.of(6), 0, 0, 1, 0, Buffer.alloc(32 + 5)), TypeError);
    const shared = Buffer.alloc(100);
    assert.throws(() => native.encode(shared, Uint32Array.of(4), Uint32Array.of(6), 0, 0, 1, 0, shared.subarray(50, 50 + 38)), /overlaps/);
    assert.throws(() => native.encode(shared.subarray(0, 10), Uint32Array.of(4), Uint32Array.of(6), 0, 0, 1, 0, shared.subarray(5, 5 + 38)), /overlaps/);
    native.encode(shared.subarray(0, 10), Uint32Array.of(4), Uint32Array.of(6), 0, 0, 1, 0, shared.subarray(10, 10 + 38));
    native.encode(bytes, Uint32Array.of(4), Uint32Array.of(6), 0, 0, 1, 0, into);
    assert.equal(native.verifyFrames(into, 0), 1);
  });
});

/** A log of small segments, so that batches are split across them, closed when `t` ends. */
async function smallSegmentLog(t: TestContext): Promise<Log> {
  const log = await Log.open(await tempDir(t), { recordBytesMax: 512, storeBytesMax: 2048, indexEntriesMax: 64, clock: () => 1_700_000_000_000 });
  cleanup(t, () => log.close());
  return log;
}

/** Asserts that `actual` stores byte for byte the frames `expected` stores, segment by segment. */
function assertSameFrames(actual: Log, expected: Log): void {
  for (let at = 0; at < expected.nextOffset; ) {
    const frames = expected.readFrames(at);
    assert.deepEqual(actual.readFrames(at), frames);
    at += frames.count;
  }
}

describe("Log.appendGathered", () => {
  test("stores the same frames as append of the same values, across segments, and reads them back", async (t) => {
    const random = TestRandom.forTest(t);
    const byArray = await smallSegmentLog(t);
    const byGathered = await smallSegmentLog(t);
    for (let round = 0; round < 20; round++) {
      const values = randomValues(random);
      const options = { term: round, type: round % 3 };
      const [first, firstGathered] = await Promise.all([byArray.append(values, options), byGathered.appendGathered(gathered(values, random), options)]);
      assert.equal(firstGathered, first);
      values.forEach((value, i) => assert.deepEqual(byGathered.read(first + i).value, value));
    }
    assert.equal(byGathered.nextOffset, byArray.nextOffset);
    assert.ok(byArray.readFrames(0).count < byArray.nextOffset, "the batches crossed segments (a read of frames stops at a segment's end)");
    assertSameFrames(byGathered, byArray);
  });

  test("refuses what append refuses, with the same typed errors, and writes nothing", async (t) => {
    const random = TestRandom.forTest(t);
    const log = await Log.open(await tempDir(t), { recordBytesMax: 100, batchBytesMax: 1000, pendingBytesMax: 1000 });
    cleanup(t, () => log.close());
    const refused: Array<[Uint8Array[], new (...args: never[]) => Error]> = [
      [[Buffer.alloc(10), Buffer.alloc(101)], RecordTooLargeError],
      [Array.from({ length: 15 }, () => Buffer.alloc(60)), BatchTooLargeError],
      [[], InvalidArgumentError],
    ];
    for (const [values, error] of refused) {
      await assert.rejects(log.append(values), error);
      await assert.rejects(log.appendGathered(gathered(values, random)), error);
    }
    await assert.rejects(log.appendGathered(gathered([Buffer.alloc(1)], random), { term: -1 }), InvalidArgumentError);
    const bytes = Buffer.alloc(10);
    await assert.rejects(log.appendGathered({ bytes, offsets: Uint32Array.of(5), lengths: Uint32Array.of(6) }), InvalidArgumentError);
    await assert.rejects(log.appendGathered({ bytes, offsets: Uint32Array.of(0, 1), lengths: Uint32Array.of(1) }), InvalidArgumentError);
    await assert.rejects(log.appendGathered({ bytes, offsets: [0] as unknown as Uint32Array, lengths: Uint32Array.of(1) }), InvalidArgumentError);
    assert.equal(log.nextOffset, 0);
    assert.equal(await log.appendGathered({ bytes, offsets: Uint32Array.of(4), lengths: Uint32Array.of(6) }), 0);
    assert.deepEqual(log.read(0).value, bytes.subarray(4));
  });
});

describe("Log.appendChecked", () => {
  test("takes only a batch checked against this log's own limits, and writes nothing of another", async (t) => {
    const log = await Log.open(await tempDir(t), { recordBytesMax: 100, batchBytesMax: 1000, pendingBytesMax: 1000 });
    cleanup(t, () => log.close());
    // Checked against other limits: a record this log refuses.
    const elsewhere = checkBatch(measureValues([Buffer.alloc(101)]), {}, { recordBytesMax: 1000, batchBytesMax: 1000 });
    assert.throws(() => log.appendChecked(elsewhere), /checked against the limits of the log it is appended to/);
    assert.equal(log.nextOffset, 0);
    assert.equal(await log.appendChecked(checkBatch(measureValues([Buffer.alloc(100, 1)]), {}, log.config)), 0);
    assert.deepEqual(log.read(0).value, Buffer.alloc(100, 1));
  });
});

describe("Log.append of values that lie in one buffer", () => {
  test("stores views apart in one buffer, in or out of its order, as it stores the same values each in its own buffer", async (t) => {
    const random = TestRandom.forTest(t);
    const byCopies = await smallSegmentLog(t);
    const byViews = await smallSegmentLog(t);
    for (let round = 0; round < 30; round++) {
      const values = randomValues(random);
      const laid = gathered(values, random);
      // A buffer of its own (Buffer.concat may take a slice of Node's shared pool, as packing may).
      const bytes = new Uint8Array(laid.bytes);
      const { offsets, lengths } = laid;
      const views = Array.from(offsets, (offset, i) => bytes.subarray(offset, offset + lengths[i]!));
      // Every third round out of the buffer's order (later values first), every fifth with one value from another buffer.
      const order = round % 3 === 0 ? views.map((_, i) => views.length - 1 - i) : views.map((_, i) => i);
      const batch = order.map((i) => views[i]!);
      if (round % 5 === 0) batch[random.int(0, batch.length)] = new Uint8Array(batch[0]!);
      const copies = batch.map((view) => new Uint8Array(view));
      const inPlace = measureValues(batch).gather(Buffer.allocUnsafe).bytes.buffer === bytes.buffer;
      assert.equal(inPlace, round % 5 !== 0, `round ${round}: encoded where they lie only when all lie in one buffer`);
      const [first, firstViews] = await Promise.all([byCopies.append(copies), byViews.append(batch)]);
      assert.equal(firstViews, first);
      copies.forEach((value, i) => assert.deepEqual(byViews.read(first + i).value, Buffer.from(value), `round ${round}, value ${i}`));
    }
    assertSameFrames(byViews, byCopies);
  });
});
