// The fault run for as long as you like: npm run chaos -- --minutes N [--partitions] [--seed S]
// Prints each fault as it happens and, at the end, the faults by kind and what the checkers found
// (all must be 0): the nodes against what the routing clients' exactly-once producers had
// acknowledged, and a following consumer's stream against the nodes. --partitions runs the nodes in
// network namespaces (root only) and adds partitions.
// A chart of the faults over time goes to bench/results/chaos-<time>.svg, beside the run's JSON.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runFaults } from "../test/support/fault-run.ts";
import { NetworkLab } from "../test/support/network-lab.ts";
import { writeResults } from "./support/results.ts";
import { flag } from "./support/stats.ts";
import { chart, lanesPanel } from "./support/svg-chart.ts";
import { exitOnHelp } from "./support/usage.ts";

exitOnHelp(`
usage: npm run chaos [-- --minutes 5] [--seed S] [--partitions]

A 3-node cluster of processes under ingestion while nodes are SIGKILLed, SIGSTOPped and restarted at
random (and, with --partitions, as root, cut off in network namespaces). Producers are routing
clients with every member's address, exactly-once, retrying until acknowledged; a routing client
follows the log throughout. Then every acknowledged record is checked on every node, and the
consumer's stream against the nodes. Prints each fault as it happens and a summary; a chart of the
faults over time goes to bench/results/chaos-<time>.svg.
`);

const minutes = flag("minutes", 5);
const seed = flag("seed", Math.floor(Math.random() * 2 ** 31), 0);
const partitions = process.argv.includes("--partitions");
const unavailable = partitions ? NetworkLab.unavailable() : undefined;
if (unavailable !== undefined) {
  console.error(`chaos: --partitions asked for, but ${unavailable}`);
  process.exit(2);
}
const lab = partitions ? NetworkLab.create([1, 2, 3]) : undefined;
const root = mkdtempSync(join(tmpdir(), "loghouse-chaos-"));
const started = Date.now();
/** Each fault as it happened: its kind (the event line's first word) and when, in ms since the start. */
const faults: { kind: string; atMs: number }[] = [];
const kinds = lab === undefined ? "SIGKILL, SIGSTOP/SIGCONT and restarts" : `SIGKILL, SIGSTOP/SIGCONT, restarts and partitions${lab.oneWay ? " (with one-way drops)" : ""}`;
console.log(`chaos: ${minutes} min of ${kinds} on a 3-node cluster under ingestion; seed ${seed}; data in ${root}`);
try {
  const result = await runFaults({
    root,
    durationMs: minutes * 60_000,
    seed,
    lab,
    onEvent: (line) => {
      const atMs = Date.now() - started;
      console.log(`  ${(atMs / 1000).toFixed(0).padStart(5)} s  ${line}`);
      const kind = line.split(" ")[0]!;
      if (kind !== "healing") faults.push({ kind, atMs });
    },
  });
  console.log(`faults ${result.faults} ${JSON.stringify(result.faultsByKind)}`);
  console.log(
    `records acknowledged ${result.acknowledged} (${result.attempts} produce calls, ${result.abandoned} abandoned with unknown outcome ${JSON.stringify(result.abandonedReasons)}); ` +
      `lost ${result.lost}, duplicated ${result.duplicated}, moved ${result.moved}, divergent nodes ${result.divergentNodes}`,
  );
  for (const example of [...result.abandonedExamples, ...result.examples]) console.log(`  ${example}`);
  const { follow } = result;
  console.log(`following consumer: ${follow.delivered} records delivered; missing ${follow.missing}, repeated ${follow.repeated}, misordered ${follow.misordered}${follow.failure === undefined ? "" : `; ${follow.failure}`}`);
  for (const example of follow.examples) console.log(`  ${example}`);
  const perMinute = Array.from({ length: Math.ceil((Date.now() - started) / 60_000) }, (_, minute) => faults.filter((f) => Math.floor(f.atMs / 60_000) === minute).length);
  console.log(`faults per minute: ${perMinute.join(" ")}`);
  const kindsSeen = [...new Set(faults.map((f) => f.kind))];
  const lanes = kindsSeen.map((kind) => ({ label: kind, points: faults.filter((f) => f.kind === kind).map((f) => ({ at: f.atMs, count: 1 })) }));
  const verdict = `lost ${result.lost}, duplicated ${result.duplicated}, moved ${result.moved}, divergent nodes ${result.divergentNodes}`;
  const picture = chart(`chaos, seed ${seed}: ${result.acknowledged} records acknowledged; ${verdict}`, [lanesPanel("faults over time", { from: 0, to: Date.now() - started, unit: "s", scale: 1000 }, lanes)]);
  await writeResults("chaos", { seed, minutes, partitions, faults, result }, picture);
  const followFailed = follow.missing + follow.repeated + follow.misordered > 0 || follow.failure !== undefined;
  process.exitCode = result.lost + result.duplicated + result.moved + result.divergentNodes === 0 && !followFailed ? 0 : 1;
  if (process.exitCode !== 0) console.log(`replay the schedule: npm run chaos -- --minutes ${minutes} --seed ${seed}${partitions ? " --partitions" : ""}`);
} finally {
  lab?.destroy();
  rmSync(root, { recursive: true, force: true });
}
