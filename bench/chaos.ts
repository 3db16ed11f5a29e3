// The fault run for as long as you like: npm run chaos -- --minutes N [--partitions] [--seed S]
// Prints each fault as it happens and, at the end, the faults by kind and what the checker found
// (all must be 0). --partitions runs the nodes in network namespaces (root only) and adds partitions.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runFaults } from "../test/support/fault-run.ts";
import { NetworkLab } from "../test/support/network-lab.ts";
import { flag } from "./support/stats.ts";

const minutes = flag("minutes", 5);
const seed = flag("seed", Math.floor(Math.random() * 2 ** 31));
const partitions = process.argv.includes("--partitions");
const unavailable = partitions ? NetworkLab.unavailable() : undefined;
if (unavailable !== undefined) {
  console.error(`chaos: --partitions asked for, but ${unavailable}`);
  process.exit(2);
}
const lab = partitions ? NetworkLab.create([1, 2, 3]) : undefined;
const root = mkdtempSync(join(tmpdir(), "loghouse-chaos-"));
const started = Date.now();
const kinds = lab === undefined ? "SIGKILL, SIGSTOP/SIGCONT and restarts" : `SIGKILL, SIGSTOP/SIGCONT, restarts and partitions${lab.oneWay ? " (with one-way drops)" : ""}`;
console.log(`chaos: ${minutes} min of ${kinds} on a 3-node cluster under ingestion; seed ${seed}; data in ${root}`);
try {
  const result = await runFaults({
    root,
    durationMs: minutes * 60_000,
    seed,
    lab,
    onEvent: (line) => console.log(`  ${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s  ${line}`),
  });
  console.log(`faults ${result.faults} ${JSON.stringify(result.faultsByKind)}`);
  console.log(
    `records acknowledged ${result.acknowledged} (of ${result.attempts} batches tried); ` +
      `lost ${result.lost}, duplicated ${result.duplicated}, moved ${result.moved}, divergent nodes ${result.divergentNodes}`,
  );
  for (const example of result.examples) console.log(`  ${example}`);
  process.exitCode = result.lost + result.duplicated + result.moved + result.divergentNodes === 0 ? 0 : 1;
  if (process.exitCode !== 0) console.log(`replay the schedule: npm run chaos -- --minutes ${minutes} --seed ${seed}${partitions ? " --partitions" : ""}`);
} finally {
  lab?.destroy();
  rmSync(root, { recursive: true, force: true });
}
