/**
 * The deterministic simulator in the test suite: many seeded clusters (3 and 5 nodes) of production
 * replicas over a simulated clock, network and disk, under faults, checked after every event and
 * against the clients' history at the end. A failure names the seed; replay it with
 * `npm run sim -- --seeds 1 --seed S --nodes N`, which also writes its trace.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runSeed, runSeeds } from "../src/sim/run-seeds.ts";

const seeds = Number(process.env["SIM_SEEDS"] ?? 2000);

describe("cluster simulator", () => {
  it("a seed replays exactly (same trace twice)", async () => {
    const first = await runSeed(42, 3, true);
    const second = await runSeed(42, 3, true);
    assert.ok(first.trace.length > 100);
    assert.deepEqual(second.trace, first.trace);
  });

  it(`${seeds} seeds end with no violation`, async () => {
    const summary = await runSeeds({ first: 1, count: seeds, nodes: undefined, stopOnFailure: false });
    const failures = summary.failures.map((f) => `seed ${f.seed} (${f.nodes} nodes): ${f.error} (replay: npm run sim -- --seeds 1 --seed ${f.seed} --nodes ${f.nodes})`);
    assert.deepEqual(failures, []);
    assert.equal(summary.seeds, seeds);
  });
});
