// The bounded fault run in CI (npm run chaos runs the same for longer): SIGKILL, SIGSTOP/SIGCONT
// and restarts at random under continuous ingestion; nothing acknowledged may be lost, doubled or
// moved, and the nodes may not diverge.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runFaults } from "./support/fault-run.ts";
import { tempDir } from "./support/temp-dir.ts";

const DURATION_MS = Number(process.env.FAULT_RUN_MS ?? 60_000);

test(`fault run of ${DURATION_MS / 1000} s: no acknowledged record lost, doubled or moved; no divergence`, { timeout: DURATION_MS + 300_000 }, async (t) => {
  const result = await runFaults({ root: await tempDir(t), durationMs: DURATION_MS });
  t.diagnostic(`faults ${result.faults}; ${result.acknowledged} records acknowledged from ${result.attempts} batches tried`);
  assert.ok(result.faults > 0 && result.acknowledged > 0, "the run did something");
  assert.deepEqual(
    { lost: result.lost, duplicated: result.duplicated, moved: result.moved, divergentNodes: result.divergentNodes },
    { lost: 0, duplicated: 0, moved: 0, divergentNodes: 0 },
    result.examples.join("; ") || "no examples",
  );
});
