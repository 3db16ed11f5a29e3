// The fault run for as long as you like: npm run chaos -- --minutes N
// Prints each fault as it happens and, at the end, what the checker found (all must be 0).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runFaults } from "../test/support/fault-run.ts";
import { flag } from "./support/stats.ts";

const minutes = flag("minutes", 5);
const root = mkdtempSync(join(tmpdir(), "loghouse-chaos-"));
const started = Date.now();
console.log(`chaos: ${minutes} min of SIGKILL, SIGSTOP/SIGCONT and restarts on a 3-node cluster under ingestion; data in ${root}`);
const result = await runFaults({
  root,
  durationMs: minutes * 60_000,
  onEvent: (line) => console.log(`  ${((Date.now() - started) / 1000).toFixed(0).padStart(5)} s  ${line}`),
});
console.log(
  `faults ${result.faults}; records acknowledged ${result.acknowledged} (of ${result.attempts} batches tried); ` +
    `lost ${result.lost}, duplicated ${result.duplicated}, moved ${result.moved}, divergent nodes ${result.divergentNodes}`,
);
for (const example of result.examples) console.log(`  ${example}`);
rmSync(root, { recursive: true, force: true });
process.exitCode = result.lost + result.duplicated + result.moved + result.divergentNodes === 0 ? 0 : 1;
