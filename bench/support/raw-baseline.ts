// The physical limit measured in the same run: plain fs.writeSync of the same bytes to a file,
// with fdatasync after every batch when durable. Nothing a log does can beat this by much.
import { closeSync, fdatasync, fdatasyncSync, openSync, rmSync, writeSync } from "node:fs";
import { open } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

export interface RawResult {
  readonly recordsPerSecond: number;
  readonly bytesPerSecond: number;
}

export function measureRawWrites(dir: string, recordBytes: number, batchRecords: number, durable: boolean, seconds: number): RawResult {
  const path = join(dir, `raw-${recordBytes}-${batchRecords}-${durable}`);
  const fd = openSync(path, "w");
  const batch = Buffer.alloc(recordBytes * batchRecords, 0x61);
  let records = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  while (performance.now() < deadline) {
    writeSync(fd, batch);
    if (durable) fdatasyncSync(fd);
    records += batchRecords;
  }
  const elapsedSeconds = (performance.now() - start) / 1000;
  closeSync(fd);
  rmSync(path, { force: true });
  return { recordsPerSecond: records / elapsedSeconds, bytesPerSecond: (records * recordBytes) / elapsedSeconds };
}

/**
 * measureRawWrites(durable) with the write and the fdatasync on libuv's thread pool, awaited one
 * after the other: the same disk work as a log that keeps fsync off its event loop must do, with the
 * hand-offs to a worker and the wake-ups back. The log's addon does the write and the fdatasync in
 * one task, so it hands off once per batch where this does twice; the second hand-off of each round
 * is the one that waits for the disk and so wakes an idle thread, which is most of the cost here.
 */
export async function measureRawWritesOnPool(dir: string, recordBytes: number, batchRecords: number, seconds: number): Promise<RawResult> {
  const path = join(dir, `raw-pool-${recordBytes}-${batchRecords}`);
  const handle = await open(path, "w");
  const batch = Buffer.alloc(recordBytes * batchRecords, 0x61);
  let records = 0;
  const start = performance.now();
  const deadline = start + seconds * 1000;
  try {
    while (performance.now() < deadline) {
      await handle.write(batch);
      await handle.datasync();
      records += batchRecords;
    }
  } finally {
    await handle.close();
    rmSync(path, { force: true });
  }
  const elapsedSeconds = (performance.now() - start) / 1000;
  return { recordsPerSecond: records / elapsedSeconds, bytesPerSecond: (records * recordBytes) / elapsedSeconds };
}

/** Latencies in ms of `count` rounds of one `recordBytes` write and one fdatasync: the cost of one durable record, measured in the same run. */
export function measureSyncLatenciesMs(dir: string, recordBytes: number, count: number): Promise<number[]> {
  return durableWriteLatenciesMs(dir, recordBytes, count, fdatasyncSync);
}

/**
 * Latencies in ms of `count` rounds of one `recordBytes` write on this thread and then one fdatasync
 * on libuv's thread pool: the same disk work as measureSyncLatenciesMs plus one hand-off to a worker
 * thread and the wake-up back, as a node that never blocks its event loop on fsync pays (its addon
 * runs the write and the fdatasync as one task on that pool).
 */
export function measureWorkerSyncLatenciesMs(dir: string, recordBytes: number, count: number): Promise<number[]> {
  return durableWriteLatenciesMs(dir, recordBytes, count, promisify(fdatasync));
}

/**
 * Latencies in ms of `writers` loops at once, each of `count` rounds of one `recordBytes` write and
 * one fdatasync (on libuv's thread pool) of a file of its own in `dir`: what each node of a cluster
 * whose nodes share this disk pays for a sync while the others sync too (the journal serialises
 * them), as the nodes of bench:cluster do. At most 4 writers (the pool's threads).
 */
export async function measureConcurrentSyncLatenciesMs(dir: string, recordBytes: number, count: number, writers: number): Promise<number[]> {
  const loops = Array.from({ length: writers }, (_, i) => durableWriteLatenciesMs(dir, recordBytes, count, promisify(fdatasync), `-${i}`));
  return (await Promise.all(loops)).flat().sort((a, b) => a - b);
}

/** Sorted latencies of `count` rounds of a write and `datasync`, on a scratch file in `dir` (named with `suffix`). */
async function durableWriteLatenciesMs(dir: string, recordBytes: number, count: number, datasync: (fd: number) => void | Promise<void>, suffix = ""): Promise<number[]> {
  const path = join(dir, `sync-latency-${recordBytes}${suffix}`);
  const fd = openSync(path, "w");
  const record = Buffer.alloc(recordBytes, 0x61);
  const latenciesMs: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const started = performance.now();
      writeSync(fd, record);
      const synced = datasync(fd);
      if (synced !== undefined) await synced;
      latenciesMs.push(performance.now() - started);
    }
  } finally {
    closeSync(fd);
    rmSync(path, { force: true });
  }
  return latenciesMs.sort((a, b) => a - b);
}
