// Random damage, many times over. To the active segment: opening never fails or crashes, the log
// keeps a prefix of what was written (records before the damage come back byte for byte, later ones
// are cut or reported as data loss, never returned wrong), and appending continues after it. To a
// sealed segment (its files damaged, cut or deleted): nothing is cut, every record reads back with
// its value and metadata or as data loss, the scrub names exactly the latter, and replacing them
// from a healthy copy leaves the log whole.
import assert from "node:assert/strict";
import { rm, stat, truncate } from "node:fs/promises";
import { test } from "node:test";
import { DataLossError } from "../src/errors.ts";
import { Log, type LogConfig, type LogRecord } from "../src/storage/index.ts";
import { overwrite, segmentFile } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { TestRandom } from "./support/test-random.ts";

const ROUNDS = 60;
const config: Partial<LogConfig> = { indexEntriesMax: 1000, recordBytesMax: 256, batchBytesMax: 1 << 16, pendingBytesMax: 1 << 20 };

type Damage = (dir: string, random: TestRandom, base: number) => Promise<string>;


const damages: Damage[] = [
  async (dir, random, base) => {
    const store = segmentFile(dir, base, ".store");
    const at = random.int(0, (await stat(store)).size);
    await truncate(store, at);
    return `store cut at ${at}`;
  },
  async (dir, random, base) => {
    const store = segmentFile(dir, base, ".store");
    const at = random.int(0, (await stat(store)).size);
    await overwrite(store, at, random.bytes(random.int(1, 8)));
    return `store bytes replaced at ${at}`;
  },
  async (dir, random, base) => {
    const store = segmentFile(dir, base, ".store");
    await overwrite(store, (await stat(store)).size, random.bytes(random.int(1, 300)));
    return "garbage appended to the store";
  },
  async (dir, random, base) => {
    const at = random.int(0, 200) * 8;
    await overwrite(segmentFile(dir, base, ".index"), at, random.int(0, 2) === 0 ? Buffer.alloc(random.int(8, 400)) : random.bytes(random.int(8, 64)));
    return `index damaged at ${at}`;
  },
  async (dir, random, base) => {
    const at = random.int(0, 20) * 32;
    await overwrite(segmentFile(dir, base, ".runindex"), at, random.bytes(random.int(8, 96)));
    return `run index damaged at ${at}`;
  },
];

const sealedDamages: Damage[] = [
  ...damages,
  async (dir, _random, base) => {
    await rm(segmentFile(dir, base, ".index"));
    return "index deleted";
  },
  async (dir, _random, base) => {
    await rm(segmentFile(dir, base, ".runindex"));
    return "run index deleted";
  },
  async (dir, random, base) => {
    const at = random.int(0, 20) * 8;
    await truncate(segmentFile(dir, base, ".index"), at);
    return `index cut at ${at}`;
  },
];

test(`${ROUNDS} rounds of random damage to a sealed segment: nothing cut, nothing wrong, the scrub finds it and a healthy copy repairs it`, async (t) => {
  const random = TestRandom.forTest(t);
  const sealedConfig = { ...config, indexEntriesMax: 16 };
  for (let round = 0; round < ROUNDS; round++) {
    const [dir, healthyDir] = [await tempDir(t), await tempDir(t)];
    const batches = Array.from({ length: 20 }, (_, batch) => Array.from({ length: random.int(1, 10) }, () => random.bytes(random.int(0, 200))));
    for (const path of [dir, healthyDir]) {
      const log = await Log.open(path, sealedConfig);
      for (const [batch, values] of batches.entries()) await log.append(values, { term: batch, timestampMs: 1000 + batch });
      await log.close();
    }
    const healthy = await Log.open(healthyDir, sealedConfig);
    const expected: LogRecord[] = healthy.readRange(0, { bytesMax: 1 << 30 });
    const sealedBases = expected.filter((record) => record.offset % 16 === 0 && record.offset + 16 < expected.length).map((r) => r.offset);
    // Two segments damaged (or one twice over, when there is only one).
    const bases = [sealedBases[random.int(0, sealedBases.length)]!, sealedBases[random.int(0, sealedBases.length)]!];
    const damage = async (base: number): Promise<string> => `${await sealedDamages[random.int(0, sealedDamages.length)]!(dir, random, base)} in segment ${base}`;
    const what = bases[0] === bases[1] ? await damage(bases[0]!) : `${await damage(bases[0]!)}; ${await damage(bases[1]!)}`;
    const log = await Log.open(dir, sealedConfig);
    try {
      assert.equal(log.nextOffset, expected.length, `${what}: nothing is cut from sealed segments`);
      const damaged = new Set<number>();
      for (const record of expected) {
        try {
          assert.deepEqual(log.read(record.offset), record, `${what}: record ${record.offset}`);
        } catch (error) {
          if (!(error instanceof DataLossError)) throw error;
          damaged.add(record.offset);
        }
      }
      const report = await log.scrub();
      const reported = report.damaged.flatMap((range) => Array.from({ length: range.endOffset - range.firstOffset }, (_, i) => range.firstOffset + i));
      assert.deepEqual(reported, [...damaged], `${what}: the scrub names exactly the records that read as damaged`);
      for (const base of new Set(report.damaged.map((range) => range.segmentBaseOffset))) {
        const ranges = report.damaged.filter((range) => range.segmentBaseOffset === base);
        const [low, high] = [ranges[0]!.firstOffset, ranges[ranges.length - 1]!.endOffset];
        await log.replaceRange(low, healthy.readFrames(low, { countMax: high - low, bytesMax: 1 << 30 }).frames);
      }
      for (const record of expected) assert.deepEqual(log.read(record.offset), record, `${what}: record ${record.offset} after repair`);
    } finally {
      await Promise.all([log.close(), healthy.close()]);
    }
  }
});

test(`${ROUNDS} rounds of random damage never yield wrong data`, async (t) => {
  const random = TestRandom.forTest(t);
  for (let round = 0; round < ROUNDS; round++) {
    const dir = await tempDir(t);
    const written: Buffer[] = [];
    const log = await Log.open(dir, config);
    for (let batch = 0; batch < 20; batch++) {
      const values = Array.from({ length: random.int(1, 10) }, () => random.bytes(random.int(0, 200)));
      await log.append(values);
      written.push(...values);
    }
    await log.close();
    const what = await damages[random.int(0, damages.length)]!(dir, random, 0);
    const reopened = await Log.open(dir, config);
    try {
      assert.ok(reopened.nextOffset <= written.length, `${what}: the log does not grow`);
      for (let offset = 0; offset < reopened.nextOffset; offset++) {
        try {
          assert.deepEqual(reopened.read(offset).value, written[offset], `${what}: record ${offset} is what was written`);
        } catch (error) {
          if (!(error instanceof DataLossError)) throw error;
        }
      }
      const next = reopened.nextOffset;
      assert.equal(await reopened.append([Buffer.from("after")]), next, `${what}: appending continues`);
      assert.equal(reopened.read(next).value.toString(), "after");
    } finally {
      await reopened.close();
    }
  }
});
