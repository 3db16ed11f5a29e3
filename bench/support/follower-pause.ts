// A follower that falls behind, and whether it catches up. Batch load on a 3-node cluster's leader
// (ProduceBatch, a few batches in flight), measured for a window as it is, then for a window from
// the moment one follower, stopped (SIGSTOP) for a second under the same load, is let go: the
// cluster's rate, each node's CPU (/proc) per record it applied (its /metrics) and how far the
// follower is still behind at the end. A follower that catches up applies its backlog and the new
// records at about its usual cost per record and ends the window close behind the leader; one that
// stays behind costs several times more per record and ends it far behind.
//
// Measured (issue 12): a follower back from a one-second stop got more entries in one go than it
// applied per Ready (4 MiB) and than it kept in memory (8 MiB), so it read every entry back from its
// log to apply it and never caught up: 3.4-4.6 µs per acknowledged record over the next 3-5 s
// against 1.1-1.9 for the others. Keeping what it had yet to apply was not enough alone: with the
// 4 MiB bound it still ended a 3 s window 855k records behind, at 5.16 µs per record applied
// (medians of 3). It now applies per Ready as much as a leader may have in flight to it (reading
// back from its log at most 4 MiB per call, src/cluster/log-storage.ts) and keeps what it has yet to
// apply (src/cluster/recent-entries.ts): 1.64-1.77 µs per record applied (0.91-1.36 before the
// stop), nothing behind at the end.
import { LoghouseClient } from "../../src/client/client.ts";
import type { ProcessCluster } from "../../test/support/process-cluster.ts";
import { processCpuMs } from "../../test/support/proc-stats.ts";
import { batchRecordsFor } from "./batch-records.ts";
import { nodeMetric } from "../../test/support/node-metric.ts";
import { formatRate, median, printTable } from "./stats.ts";

const BATCHES_IN_FLIGHT = 4;
const PAUSE_MS = 1000;

export interface FollowerPauseWindow {
  readonly name: string;
  /** Records the client had acknowledged per second. */
  readonly recordsPerSecond: number;
  /** CPU per record each node applied in the window (the leader, the paused follower, the other), in µs: a follower catching up applies more records than were acknowledged meanwhile. */
  readonly cpuMicrosPerRecord: readonly [number, number, number];
  /** Records the paused follower had yet to apply at the window's end, against the leader. */
  readonly behindAtEnd: number;
}

/** Runs the two windows `settings.runs` times against `cluster` (3 nodes, running) and prints their medians side by side. */
export async function benchFollowerPause(cluster: ProcessCluster, settings: { seconds: number; runs: number; recordBytes: number }): Promise<FollowerPauseWindow[]> {
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
  const applied = (): Promise<number[]> => Promise.all([leader, paused, other].map((id) => nodeMetric(cluster.address(id), "loghouse_raft_applied_index")));
  const window = async (name: string): Promise<FollowerPauseWindow> => {
    const [cpuBefore, appliedBefore] = [pids.map(processCpuMs), await applied()];
    const started = performance.now();
    const records = await load(settings.seconds * 1000);
    const seconds = (performance.now() - started) / 1000;
    const [cpuAfter, appliedAfter] = [pids.map(processCpuMs), await applied()];
    const cpu = pids.map((_, i) => ((cpuAfter[i]! - cpuBefore[i]!) * 1000) / (appliedAfter[i]! - appliedBefore[i]!)) as [number, number, number];
    return { name, recordsPerSecond: records / seconds, cpuMicrosPerRecord: cpu, behindAtEnd: appliedAfter[0]! - appliedAfter[1]! };
  };
  try {
    await load(1000);
    const runs: Array<[FollowerPauseWindow, FollowerPauseWindow]> = [];
    for (let run = 0; run < settings.runs; run++) {
      const steady = await window("steady");
      // The leader and the other follower go on committing meanwhile; the window starts as the follower is let go.
      process.kill(pids[1]!, "SIGSTOP");
      try {
        await load(PAUSE_MS);
      } finally {
        process.kill(pids[1]!, "SIGCONT");
      }
      runs.push([steady, await window(`after node ${paused} was stopped for ${PAUSE_MS} ms`)]);
      console.log(`  follower stopped under batch load: run ${run + 1} of ${settings.runs} done`);
    }
    const windows = [0, 1].map((at): FollowerPauseWindow => ({
      name: runs[0]![at]!.name,
      recordsPerSecond: median(runs.map((pair) => pair[at]!.recordsPerSecond)),
      cpuMicrosPerRecord: [0, 1, 2].map((node) => median(runs.map((pair) => pair[at]!.cpuMicrosPerRecord[node]!))) as [number, number, number],
      behindAtEnd: median(runs.map((pair) => pair[at]!.behindAtEnd)),
    }));
    console.log(
      `\na follower stopped under batch load (${BATCHES_IN_FLIGHT} x ${batch.length} x ${settings.recordBytes} B in flight to node ${leader}), ${settings.seconds} s windows, the second from the moment it is let go; medians of ${settings.runs}:`,
    );
    printTable(
      ["window", "cluster rec/s", "leader CPU µs/rec applied", `node ${paused} (stopped) CPU µs/rec applied`, `node ${other} CPU µs/rec applied`, `node ${paused} behind at the end`],
      windows.map((w) => [w.name, formatRate(w.recordsPerSecond), ...w.cpuMicrosPerRecord.map((micros) => micros.toFixed(2)), w.behindAtEnd.toLocaleString()]),
    );
    return windows;
  } finally {
    client.close();
  }
}
