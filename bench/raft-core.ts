/**
 * Throughput of the Raft core alone: a 3-node cluster with a zero-latency network and disk (no I/O),
 * entries proposed to the leader in batches of 1,000, each batch pumped until it is applied on every
 * node. Reported: entries committed per second (median of several trials), beside a baseline that
 * only allocates the same entries and appends them to three arrays (the floor of any implementation).
 *
 *   npm run bench:raft [-- --trials 5 --batches 1000]
 */
import { parseArgs } from "node:util";
import { defaultRaftLimits } from "../src/raft/config.ts";
import { EntryType, type Entry } from "../src/raft/types.ts";
import { ScenarioEnv } from "../src/sim/scenario.ts";
import { writeResults } from "./support/results.ts";
import { barsPanel, chart } from "./support/svg-chart.ts";
import { exitOnHelp } from "./support/usage.ts";

exitOnHelp(`
usage: npm run bench:raft [-- --trials 5] [--batches 1000]

The Raft core alone on a zero-latency simulated 3-node cluster (1,000-entry proposals of 100 B),
beside a floor that only allocates and appends the same entries to three arrays. Results and a chart
go to bench/results/raft-core-<time>.json and .svg.
`);

const { values } = parseArgs({
  options: { trials: { type: "string", default: "5" }, batches: { type: "string", default: "1000" } },
});
const trials = Number(values.trials);
const batches = Number(values.batches);
const batchEntries = 1000;
const payload = new Uint8Array(100);
const batch: Uint8Array[] = Array.from({ length: batchEntries }, () => payload);
const limits = { ...defaultRaftLimits, messageBytesMax: 4 << 20, inflightBytesMax: 64 << 20, uncommittedEntriesMax: 1 << 20 };

function coreTrial(): number {
  const cluster = new ScenarioEnv(1, limits);
  cluster.addNodes([1, 2, 3], { index: 1, term: 1, membership: { voters: [1, 2, 3], learners: [] } });
  cluster.campaign(1);
  cluster.settle();
  const leader = cluster.node(1);
  cluster.appliedEntries = 0;
  const started = performance.now();
  for (let b = 0; b < batches; b++) {
    const result = leader.propose(batch);
    if (!result.ok) throw new Error(`proposal refused: ${result.reason}`);
    cluster.settle();
    if (b % 100 === 99) for (const id of [1, 2, 3]) cluster.compact(id, cluster.node(id).status().applied);
  }
  const seconds = (performance.now() - started) / 1000;
  const expected = batches * batchEntries * 3;
  if (cluster.appliedEntries < expected) throw new Error(`applied ${cluster.appliedEntries}, expected ${expected}`);
  return (batches * batchEntries) / seconds;
}

function baselineTrial(): number {
  const replicas: Entry[][] = [[], [], []];
  const started = performance.now();
  let index = 1;
  for (let b = 0; b < batches; b++) {
    for (let i = 0; i < batchEntries; i++) {
      const entry: Entry = { index: index++, term: 1, type: EntryType.Normal, data: payload };
      for (const replica of replicas) replica.push(entry);
    }
    if (b % 100 === 99) for (const replica of replicas) replica.length = 0;
  }
  return (batches * batchEntries) / ((performance.now() - started) / 1000);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function format(rate: number): string {
  return `${(rate / 1e6).toFixed(2)}M entries/s`;
}

console.log(`raft core: 3 nodes, zero-latency network and disk, ${batches} batches of ${batchEntries} entries (100 B) per trial`);
console.log("expectation: per entry, one allocation and ~3 array appends plus per-batch protocol work (~10 messages);");
console.log("  at ~50-100 ns per entry that is 5-10M entries/s for the floor, and the core should stay above 1M/s");
coreTrial(); // warm-up, not reported
const core: number[] = [];
const baseline: number[] = [];
for (let t = 0; t < trials; t++) {
  core.push(coreTrial());
  baseline.push(baselineTrial());
}
console.log(`baseline (allocate + append to 3 arrays): median ${format(median(baseline))}  [${baseline.map(format).join(", ")}]`);
console.log(`raft core committed and applied on all 3:   median ${format(median(core))}  [${core.map(format).join(", ")}]`);
const trialBars = [
  ...core.map((rate, t) => ({ label: `raft core, trial ${t + 1}`, value: rate })),
  ...baseline.map((rate, t) => ({ label: `floor (arrays), trial ${t + 1}`, value: rate, baseline: true })),
];
const picture = chart(`raft core: 3 nodes, ${batches} batches of ${batchEntries} entries per trial`, [barsPanel("throughput per trial", "entries/s", trialBars, (rate) => (rate / 1e6).toFixed(2) + "M")]);
await writeResults("raft-core", { trials, batches, batchEntries, coreEntriesPerSecond: core, baselineEntriesPerSecond: baseline }, picture);
