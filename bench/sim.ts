/**
 * Command line for the deterministic cluster simulator:
 *
 *   npm run sim -- --seeds N [--nodes 3|5] [--seed S] [--keep-going] [--trace-dir DIR] [--no-disk-loss]
 *
 * Runs seeds S, S+1, ..., S+N-1 (S defaults to 1). Without --nodes, odd seeds run 3 nodes and even
 * seeds 5. On a violation it prints the seed and the command that replays it, and writes the event
 * trace of the replay to a file. Exit status 1 when any seed failed. A chart of the faults each seed
 * met, in run order, goes to bench/results/sim-<time>.svg beside the per-seed JSON.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { runSeed, runSeeds, type SeedFailure, type SeedOutcome } from "../src/sim/run-seeds.ts";
import { writeResults } from "./support/results.ts";
import { chart, lanesPanel } from "./support/svg-chart.ts";
import { exitOnHelp } from "./support/usage.ts";

exitOnHelp(`
usage: npm run sim [-- --seeds N] [--nodes 3|5] [--seed S] [--keep-going] [--trace-dir DIR] [--no-disk-loss]

Runs the production replica in the deterministic simulator for seeds S..S+N-1 (default 1..100),
under crashes, partitions, disk faults, lost disks (off with --no-disk-loss) and membership changes,
with invariant checkers. A failing
seed is printed with its replay command and its trace written to --trace-dir. A chart of the
faults per seed goes to bench/results/sim-<time>.svg.
`);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      seeds: { type: "string", default: "100" },
      seed: { type: "string", default: "1" },
      nodes: { type: "string" },
      "keep-going": { type: "boolean", default: false },
      // Servers lose their disks and rejoin by name under a new Raft id unless this is given (src/sim/simulation.ts).
      "no-disk-loss": { type: "boolean", default: false },
      "trace-dir": { type: "string", default: join(tmpdir(), "loghouse-sim") },
    },
  });
  const count = parsePositive("--seeds", values.seeds);
  const first = parsePositive("--seed", values.seed);
  const nodes = values.nodes === undefined ? undefined : parsePositive("--nodes", values.nodes);
  if (nodes !== undefined && nodes !== 3 && nodes !== 5) throw new Error(`--nodes must be 3 or 5, got ${nodes}`);
  const step = Math.max(1, Math.floor(count / 20));
  console.log(`simulating seeds ${first}..${first + count - 1} (${nodes === undefined ? "3 or 5" : nodes} nodes)`);
  const outcomes: SeedOutcome[] = [];
  const summary = await runSeeds({
    first,
    count,
    nodes,
    stopOnFailure: !values["keep-going"],
    diskLoss: !values["no-disk-loss"],
    progress: (done, s, outcome) => {
      outcomes.push(outcome);
      if (done % step === 0 || s.failures.length > 0 && s.failures[s.failures.length - 1]?.seed === first + done - 1) {
        const rate = (done / (s.elapsedMs / 1000)).toFixed(1);
        console.log(`  ${done}/${count} seeds, ${s.failures.length} violations, ${rate} seeds/s`);
      }
    },
  });
  for (const failure of summary.failures) await report(failure, values["trace-dir"], !values["no-disk-loss"]);
  const seconds = summary.elapsedMs / 1000;
  console.log(
    `summary: ${summary.seeds} seeds, ${summary.failures.length} violations, ${seconds.toFixed(1)} s, ` +
      `${(summary.seeds / seconds).toFixed(1)} seeds/s, ${summary.events} events`,
  );
  await writeChart(outcomes, summary.failures.length);
  return summary.failures.length === 0 ? 0 : 1;
}

/** Prints the faults the seeds met and draws them per seed, violations in a lane of their own. */
async function writeChart(outcomes: readonly SeedOutcome[], violations: number): Promise<void> {
  const lane = (label: string, count: (outcome: SeedOutcome) => number) => ({ label, points: outcomes.map((outcome) => ({ at: outcome.seed, count: count(outcome) })) });
  const lanes = [
    lane("crashes", (o) => o.stats.crashes),
    lane("leader terms", (o) => o.stats.leaderTerms),
    lane("membership changes", (o) => o.stats.membershipChanges),
    lane("disks lost", (o) => o.stats.disksLost),
    lane("violations", (o) => (o.ok ? 0 : 1)),
  ];
  const totals = lanes.map((l) => `${l.label} ${l.points.reduce((sum, p) => sum + p.count, 0)}`).join(", ");
  console.log(`faults over the run: ${totals}`);
  const first = outcomes[0]?.seed ?? 0;
  const last = outcomes[outcomes.length - 1]?.seed ?? 0;
  const picture = chart(`simulator: seeds ${first}..${last}, ${violations} violations`, [lanesPanel("faults per seed, in run order", { from: first, to: Math.max(last, first + 1), unit: "" }, lanes)]);
  await writeResults("sim", { seeds: outcomes }, picture);
}

async function report(failure: SeedFailure, traceDir: string, diskLoss: boolean): Promise<void> {
  const replay = await runSeed(failure.seed, failure.nodes, true, diskLoss);
  mkdirSync(traceDir, { recursive: true });
  const path = join(traceDir, `seed-${failure.seed}-nodes-${failure.nodes}.trace`);
  writeFileSync(path, replay.trace.join("\n") + "\n");
  console.log(`VIOLATION seed=${failure.seed} nodes=${failure.nodes}: ${failure.error}`);
  if (replay.ok || replay.error !== failure.error) console.log("  warning: the traced replay did not reproduce the failure");
  console.log(`  replay: npm run sim -- --seeds 1 --seed ${failure.seed} --nodes ${failure.nodes}${diskLoss ? "" : " --no-disk-loss"}`);
  console.log(`  trace:  ${path}`);
}

function parsePositive(name: string, text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${text}`);
  return value;
}

process.exitCode = await main();
