// A follower that falls behind, and whether it catches up. Batch load on a 3-node cluster's leader
// (ProduceBatch, a few batches in flight), measured for a window as it is, then for a window right
// after one follower was stopped (SIGSTOP) for a second under the same load and let go: the
// cluster's rate and each node's CPU per record (/proc) in both. A follower that catches up costs
// about what it did before the pause once it has; one that stays behind costs several times more.
//
// Measured (issue 12): before the fix, a follower back from a one-second stop got more entries in
// one go than it applied per Ready (4 MiB) and than it kept in memory (8 MiB), so it read every
// entry back from its log to apply it and never caught up: 3.8-4.6 µs/record over the next 5 s
// against 1.1-1.9 for the others, the cluster at 206-247k records/s against 310-367k without a
// pause. It now applies as much per Ready as a leader may have in flight to it and keeps what it
// has yet to apply (src/cluster/recent-entries.ts): 1.65-1.91 µs/record, 238-325k records/s.
import { LoghouseClient } from "../../src/client/client.ts";
import type { ProcessCluster } from "../../test/support/process-cluster.ts";
import { processCpuMs } from "../../test/support/proc-stats.ts";
import { batchRecordsFor } from "./batch-records.ts";
import { formatRate, printTable } from "./stats.ts";

const BATCHES_IN_FLIGHT = 4;
const PAUSE_MS = 1000;

export interface FollowerPauseWindow {
  readonly name: string;
  readonly recordsPerSecond: number;
  /** CPU per record of the leader, the paused follower and the other follower, in µs. */
  readonly cpuMicrosPerRecord: readonly [number, number, number];
}

/** Runs the two windows against `cluster` (3 nodes, running) and prints them side by side. */
export async function benchFollowerPause(cluster: ProcessCluster, settings: { seconds: number; recordBytes: number }): Promise<FollowerPauseWindow[]> {
  const leader = await cluster.leader();
  const [paused, other] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
  const pids = [leader, paused, other].map((id) => cluster.pid(id)!);
  const client = new LoghouseClient(cluster.address(leader));
  const batch = Array.from({ length: batchRecordsFor(settings.recordBytes) }, () => Buffer.alloc(settings.recordBytes, 0x61));
  /** Keeps BATCHES_IN_FLIGHT batches in flight for `ms`; resolves with the records written. */
  const load = async (ms: number): Promise<number> => {
    const end = Date.now() + ms;
    let records = 0;
    await Promise.all(
      Array.from({ length: BATCHES_IN_FLIGHT }, async () => {
        while (Date.now() < end) {
          await client.produceBatch(batch);
          records += batch.length;
        }
      }),
    );
    return records;
  };
  const window = async (name: string): Promise<FollowerPauseWindow> => {
    const before = pids.map(processCpuMs);
    const started = performance.now();
    const records = await load(settings.seconds * 1000);
    const seconds = (performance.now() - started) / 1000;
    const cpu = pids.map((pid, i) => ((processCpuMs(pid) - before[i]!) * 1000) / records) as [number, number, number];
    return { name, recordsPerSecond: records / seconds, cpuMicrosPerRecord: cpu };
  };
  try {
    await load(1000);
    const steady = await window("steady");
    const stopped = load(PAUSE_MS + 1000);
    process.kill(pids[1]!, "SIGSTOP");
    try {
      await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    } finally {
      process.kill(pids[1]!, "SIGCONT");
    }
    await stopped;
    const after = await window(`after node ${paused} was stopped for ${PAUSE_MS} ms`);
    console.log(`\na follower stopped under batch load (${BATCHES_IN_FLIGHT} x ${batch.length} x ${settings.recordBytes} B in flight to node ${leader}), ${settings.seconds} s windows:`);
    printTable(
      ["window", "cluster rec/s", "leader CPU µs/rec", `node ${paused} (stopped) CPU µs/rec`, `node ${other} CPU µs/rec`],
      [steady, after].map((w) => [w.name, formatRate(w.recordsPerSecond), ...w.cpuMicrosPerRecord.map((micros) => micros.toFixed(2))]),
    );
    return [steady, after];
  } finally {
    client.close();
  }
}
