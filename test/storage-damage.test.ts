// Random damage to the active segment, many times over: opening never fails or crashes, the log
// keeps a prefix of what was written (records before the damage come back byte for byte, later ones
// are cut or reported as data loss, never returned wrong), and appending continues after it.
import assert from "node:assert/strict";
import { stat, truncate } from "node:fs/promises";
import { test } from "node:test";
import { DataLossError } from "../src/errors.ts";
import { Log, type LogConfig } from "../src/storage/index.ts";
import { overwrite, segmentFile } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { TestRandom } from "./support/test-random.ts";

const ROUNDS = 60;
const config: Partial<LogConfig> = { indexEntriesMax: 1000, recordBytesMax: 256, batchBytesMax: 1 << 16, pendingBytesMax: 1 << 20 };

type Damage = (dir: string, random: TestRandom) => Promise<string>;


const damages: Damage[] = [
  async (dir, random) => {
    const store = segmentFile(dir, 0, ".store");
    const at = random.int(0, (await stat(store)).size);
    await truncate(store, at);
    return `store cut at ${at}`;
  },
  async (dir, random) => {
    const store = segmentFile(dir, 0, ".store");
    const at = random.int(0, (await stat(store)).size);
    await overwrite(store, at, random.bytes(random.int(1, 8)));
    return `store bytes replaced at ${at}`;
  },
  async (dir, random) => {
    const store = segmentFile(dir, 0, ".store");
    await overwrite(store, (await stat(store)).size, random.bytes(random.int(1, 300)));
    return "garbage appended to the store";
  },
  async (dir, random) => {
    const at = random.int(0, 200) * 8;
    await overwrite(segmentFile(dir, 0, ".index"), at, random.int(0, 2) === 0 ? Buffer.alloc(random.int(8, 400)) : random.bytes(random.int(8, 64)));
    return `index damaged at ${at}`;
  },
  async (dir, random) => {
    const at = random.int(0, 20) * 32;
    await overwrite(segmentFile(dir, 0, ".runindex"), at, random.bytes(random.int(8, 96)));
    return `run index damaged at ${at}`;
  },
];

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
    const what = await damages[random.int(0, damages.length)]!(dir, random);
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
