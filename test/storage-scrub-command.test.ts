// `loghouse scrub --data-dir DIR` on a stopped node's log: JSON on stdout, exit 0 when clean, 3
// with the damaged ranges when a sealed store has a flipped byte, 1 (a runtime error) when there is no log;
// a cluster member's data directory is scrubbed in its "log" folder.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, rename, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Log } from "../src/storage/index.ts";
import { flipByte, segmentFile } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";

const BIN = fileURLToPath(new URL("../bin/loghouse.js", import.meta.url));

async function scrub(dataDir: string): Promise<{ code: number | null; stdout: string }> {
  const child = spawn(BIN, ["scrub", "--data-dir", dataDir], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  return { code, stdout };
}

test("loghouse scrub prints the damaged ranges and exits 3, 0 when clean, 1 without a log", { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const log = await Log.open(dir, { indexEntriesMax: 10 });
  for (let i = 0; i < 25; i++) await log.append([Buffer.from(`value-${i}`)]);
  await log.close();

  const clean = await scrub(dir);
  assert.equal(clean.code, 0);
  assert.deepEqual(JSON.parse(clean.stdout).damaged, []);
  assert.equal(JSON.parse(clean.stdout).recordsChecked, 25);

  await flipByte(segmentFile(dir, 10, ".store"), 3 * (32 + "value-13".length) + 32 + 1);
  const damaged = await scrub(dir);
  assert.equal(damaged.code, 3);
  assert.deepEqual(JSON.parse(damaged.stdout).damaged, [{ segmentBaseOffset: 10, firstOffset: 13, endOffset: 14 }]);

  assert.equal((await scrub(join(dir, "absent"))).code, 1);

  // A cluster member's data directory: its log is in "log", beside raft-state.json. Before: the
  // root was scrubbed (a new empty log created there) and the member's damage went unreported.
  const member = await tempDir(t);
  await rename(dir, join(member, "log"));
  await writeFile(join(member, "raft-state.json"), "{}");
  const memberScrub = await scrub(member);
  assert.equal(memberScrub.code, 3);
  assert.deepEqual(JSON.parse(memberScrub.stdout).damaged, [{ segmentBaseOffset: 10, firstOffset: 13, endOffset: 14 }]);
  // A directory without segments is refused, and nothing is created in it.
  const empty = await tempDir(t);
  assert.equal((await scrub(empty)).code, 1);
  assert.deepEqual(await readdir(empty), []);
});

test("loghouse scrub --config opens the log with the node's segment sizes, and prints what opening repaired", { timeout: 60_000 }, async (t) => {
  const dir = await tempDir(t);
  const log = await Log.open(dir, { indexEntriesMax: 10 });
  for (let i = 0; i < 25; i++) await log.append([Buffer.from(`value-${i}`)]);
  await log.close();
  const config = join(await tempDir(t), "config.json");
  await writeFile(config, JSON.stringify({ log: { indexEntriesMax: 10 } }));
  const activeIndexBytes = async (): Promise<number> => (await stat(segmentFile(dir, 20, ".index"))).size;
  const sizedAsTheNode = await activeIndexBytes();
  // A torn (or damaged) last record: opening cuts it, and scrub says so.
  const store = segmentFile(dir, 20, ".store");
  await truncate(store, (await stat(store)).size - 3);

  const child = spawn(BIN, ["scrub", "--data-dir", dir, "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  assert.equal(await new Promise<number | null>((resolve) => child.once("exit", resolve)), 0);
  const report = JSON.parse(stdout) as { nextOffset: number; recovery: { truncatedBytes: number; emptySegmentsRemoved: number } };
  assert.equal(report.nextOffset, 24);
  assert.ok(report.recovery.truncatedBytes > 0, stdout);
  assert.equal(report.recovery.emptySegmentsRemoved, 0);
  // Before: opened with the defaults, the active segment's index grew to the default size.
  assert.equal(await activeIndexBytes(), sizedAsTheNode);
});
