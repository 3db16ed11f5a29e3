/**
 * The deterministic simulator in the test suite: many seeded clusters (3 and 5 nodes) under faults,
 * checked after every event. A failure names the seed; replay it with `npm run sim -- --seed S`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { runSeed, runSeeds } from "../src/sim/run-seeds.ts";

const seeds = Number(process.env["SIM_SEEDS"] ?? 2000);

describe("cluster simulator", () => {
  it("a seed replays exactly (same trace twice)", () => {
    const first = runSeed(42, 3, true);
    const second = runSeed(42, 3, true);
    assert.ok(first.trace.length > 100);
    assert.deepEqual(second.trace, first.trace);
  });

  it(`${seeds} seeds end with no violation`, () => {
    const summary = runSeeds({ first: 1, count: seeds, nodes: undefined, stopOnFailure: false });
    const failures = summary.failures.map((f) => `seed ${f.seed} (${f.nodes} nodes): ${f.error}`);
    assert.deepEqual(failures, []);
    assert.equal(summary.seeds, seeds);
  });
});
