/**
 * The RecordLog contract (src/storage/record-log.ts), run against the native Log and against the
 * simulator's in-memory twin (src/sim/sim-log.ts), so that what the simulator tests the replica
 * over cannot drift from what production runs it over.
 */
import assert from "node:assert/strict";
import { describe, it, type TestContext } from "node:test";
import { spawnSync } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { RestartableLog } from "../src/cluster/replica-restarts.ts";
import { DataLossError, InvalidArgumentError, OffsetOutOfRangeError, RecordTooLargeError, StorageFullError } from "../src/errors.ts";
import { SeededRandom } from "../src/raft/random.ts";
import { SimDisk } from "../src/sim/sim-disk.ts";
import { SimLog } from "../src/sim/sim-log.ts";
import { Log, type RecordLog } from "../src/storage/index.ts";
import { cleanup } from "./support/cleanup.ts";
import { flipByte, segmentFile } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { mountTmpfs } from "./support/tmpfs.ts";
import { waitUntil } from "./support/wait-until.ts";

const MIB = 1024 * 1024;

interface Subject {
  readonly log: RecordLog;
  /** Damages the value of the record at `offset` (records of 4-byte values appended as one run from 0). */
  damage(offset: number): Promise<void>;
  /** The simulated disk under the simulated log. */
  readonly disk?: SimDisk;
}

const implementations: Record<string, (t: TestContext, initialOffset: number) => Promise<Subject>> = {
  "native Log": async (t, initialOffset) => {
    const directory = await tempDir(t);
    const log = await Log.open(directory, { initialOffset, durability: "fsync" });
    cleanup(t, () => log.close());
    return {
      log,
      // A run's first frame has a 32-byte header, each later one 8 bytes (native/frame.h).
      damage: (offset) => flipByte(segmentFile(directory, initialOffset, ".store"), offset === initialOffset ? 32 : 32 + 4 + (offset - initialOffset - 1) * 12 + 8),
    };
  },
  "simulated log": async (_t, initialOffset) => {
    const disk = new SimDisk();
    const random = new SeededRandom(7);
    let now = 0;
    const environment = {
      schedule: (ms: number, run: () => void) => setImmediate(() => {
        now += ms;
        run();
      }),
      random,
      simulatedMs: () => now,
      now: () => Date.now(),
    };
    const log = SimLog.open(disk, environment, { latencyMaxMs: 3, syncFailureRate: 0 });
    if (initialOffset !== 0) await log.resetTo(initialOffset);
    return { log, disk, damage: async (offset) => disk.damage(offset, random, false) };
  },
};

/** A log on a disk the test fills and empties again, or why this machine cannot give one. */
interface FillableSubject {
  readonly log: RestartableLog;
  fill(): Promise<void>;
  makeRoom(): Promise<void>;
}

const fillable: Record<string, (t: TestContext) => Promise<FillableSubject | string>> = {
  "native Log": async (t) => {
    const mountPoint = await tempDir(t);
    const refused = mountTmpfs(mountPoint, 4);
    if (refused !== undefined) return `cannot mount a tmpfs here (needs root): ${refused}`;
    cleanup(t, () => spawnSync("umount", [mountPoint]));
    const log = await Log.open(join(mountPoint, "log"), { durability: "fsync", storeBytesMax: 2 * MIB, indexEntriesMax: 1 << 12 });
    cleanup(t, () => log.close());
    const ballast = join(mountPoint, "ballast");
    return {
      log,
      // Writes until the disk refuses: whatever fits stays.
      fill: () => writeFile(ballast, Buffer.alloc(8 * MIB)).catch((error: NodeJS.ErrnoException) => assert.equal(error.code, "ENOSPC")),
      makeRoom: () => rm(ballast),
    };
  },
  "simulated log": async (t) => {
    const subject = await implementations["simulated log"]!(t, 0);
    return {
      log: subject.log as SimLog,
      fill: async () => {
        subject.disk!.full = true;
      },
      makeRoom: async () => {
        subject.disk!.full = false;
      },
    };
  },
};

const values = (...texts: string[]): Buffer[] => texts.map((text) => Buffer.from(text));
const text = (value: Buffer): string => value.toString();

for (const [name, open] of Object.entries(implementations)) {
  describe(`RecordLog contract: ${name}`, () => {
    it("a full disk refuses appends (diskFull, not writable) until there is room again, and loses nothing taken", async (t) => {
      const subject = await fillable[name]!(t);
      if (typeof subject === "string") {
        t.skip(subject);
        return;
      }
      const { log } = subject;
      assert.equal(await log.append(values("aaaa"), { term: 1 }), 0);
      assert.deepEqual([log.diskFull, log.writable], [false, true]);
      await subject.fill();
      await assert.rejects(log.append([Buffer.alloc(256 * 1024)]), StorageFullError);
      assert.deepEqual([log.diskFull, log.writable], [true, false]);
      await assert.rejects(log.append(values("bbbb")), StorageFullError, "refused while the disk is full");
      await subject.makeRoom();
      await waitUntil("the log takes appends again", () => log.writable);
      assert.equal(log.diskFull, false);
      assert.equal(await log.append(values("cccc"), { term: 1 }), 1);
      assert.deepEqual(log.readRange(0).map((record) => text(record.value)), ["aaaa", "cccc"]);
    });

    it("an empty log holds [lowestOffset, nextOffset) = [initial, initial)", async (t) => {
      const { log } = await open(t, 5);
      assert.equal(log.lowestOffset, 5);
      assert.equal(log.nextOffset, 5);
      assert.equal(log.latestTimestampMs, 0);
      assert.throws(() => log.read(5), OffsetOutOfRangeError);
      assert.throws(() => log.readRange(4), OffsetOutOfRangeError);
      await assert.rejects(log.append([]), InvalidArgumentError);
    });

    it("appends get consecutive offsets, resolve in call order, and read back with their metadata", async (t) => {
      const { log } = await open(t, 0);
      const firsts = await Promise.all([
        log.append(values("aaaa", "bbbb"), { term: 3, type: 1, timestampMs: 100 }),
        log.append(values("cccc"), { term: 4, timestampMs: 200 }),
      ]);
      assert.deepEqual(firsts, [0, 2]);
      assert.equal(log.nextOffset, 3);
      const record = log.read(1);
      assert.deepEqual([record.offset, record.term, record.type, record.timestampMs, text(record.value)], [1, 3, 1, 100, "bbbb"]);
      assert.equal(log.termAt(2), 4);
      assert.equal(log.read(2n).type, 0);
      assert.throws(() => log.read(3), OffsetOutOfRangeError);
      assert.throws(() => log.termAt(3), OffsetOutOfRangeError);
    });

    it("a batch holding a record over recordBytesMax is refused whole; one of recordBytesMax is taken", async (t) => {
      const { log } = await open(t, 0);
      await assert.rejects(log.append([Buffer.from("aaaa"), Buffer.alloc(log.recordBytesMax + 1)]), RecordTooLargeError);
      assert.equal(log.nextOffset, 0);
      assert.equal(await log.append([Buffer.alloc(log.recordBytesMax)]), 0);
    });

    it("range reads honour countMax, return at least one record, and reject bad limits", async (t) => {
      const { log } = await open(t, 0);
      await log.append(values("aaaa", "bbbb", "cccc", "dddd"), { term: 1 });
      assert.deepEqual(log.readRange(1, { countMax: 2 }).map((r) => r.offset), [1, 2]);
      assert.deepEqual(log.readRange(0).map((r) => text(r.value)), ["aaaa", "bbbb", "cccc", "dddd"]);
      assert.equal(log.readRange(2, { bytesMax: 0 }).length, 1);
      assert.throws(() => log.readRange(0, { countMax: 0 }), InvalidArgumentError);
      assert.throws(() => log.readRange(4), OffsetOutOfRangeError);
    });

    it("creation times never go back, and find records by time", async (t) => {
      const { log } = await open(t, 0);
      await log.append(values("aaaa"), { timestampMs: 1_000 });
      await log.append(values("bbbb"), { timestampMs: 500 });
      await log.append(values("cccc"), { timestampMs: 2_000 });
      assert.deepEqual([0, 1, 2].map((offset) => log.read(offset).timestampMs), [1_000, 1_000, 2_000]);
      assert.equal(log.latestTimestampMs, 2_000);
      assert.equal(log.offsetForTime(0), 0);
      assert.equal(log.offsetForTime(1_500), 2);
      assert.equal(log.offsetForTime(2_001), undefined);
    });

    it("truncateAfter removes the suffix; appends continue after it", async (t) => {
      const { log } = await open(t, 0);
      await log.append(values("aaaa", "bbbb"), { timestampMs: 10 });
      await log.append(values("cccc", "dddd"), { timestampMs: 20 });
      await log.truncateAfter(1);
      assert.equal(log.nextOffset, 2);
      assert.equal(log.latestTimestampMs, 10);
      assert.throws(() => log.read(2), OffsetOutOfRangeError);
      assert.equal(await log.append(values("eeee"), { term: 2, timestampMs: 30 }), 2);
      assert.deepEqual(log.readRange(0).map((r) => text(r.value)), ["aaaa", "bbbb", "eeee"]);
      await log.truncateAfter(5);
      assert.equal(log.nextOffset, 3);
      await log.truncateAfter(-1);
      assert.equal(log.nextOffset, 0);
      await assert.rejects(log.truncateAfter(-2), OffsetOutOfRangeError);
    });

    it("resetTo empties the log and restarts it at a new start point", async (t) => {
      const { log } = await open(t, 0);
      await log.append(values("aaaa", "bbbb"), { timestampMs: 10 });
      await log.resetTo(40);
      assert.deepEqual([log.lowestOffset, log.nextOffset, log.latestTimestampMs], [40, 40, 0]);
      assert.throws(() => log.read(0), OffsetOutOfRangeError);
      assert.equal(await log.append(values("cccc")), 40);
      assert.equal(text(log.read(40).value), "cccc");
      await assert.rejects(log.resetTo(-1), InvalidArgumentError);
    });

    it("a damaged record reads as DataLossError; range reads stop before it", async (t) => {
      const { log, damage } = await open(t, 0);
      await log.append(values("aaaa", "bbbb", "cccc"), { term: 1, timestampMs: 10 });
      await damage(1);
      assert.equal(text(log.read(0).value), "aaaa");
      assert.throws(() => log.read(1), DataLossError);
      assert.deepEqual(log.readRange(0).map((r) => r.offset), [0]);
      assert.throws(() => log.readRange(1), DataLossError);
      assert.equal(text(log.read(2).value), "cccc");
    });
  });
}
