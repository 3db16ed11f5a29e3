/**
 * The deterministic simulator in the test suite: many seeded clusters (3 and 5 nodes) of production
 * replicas over a simulated clock, network and disk, under faults, checked after every event and
 * against the clients' history at the end, servers losing their disks included. A failure names the
 * seed; replay it with `npm run sim -- --seeds 1 --seed S --nodes N`, which also writes its trace.
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

  it("seed 13254: a server that lost its disk rejoins by name under a new Raft id, and no empty voter wins an election", async () => {
    // With the old id reused, replayed configurations counted the empty server a voter: it led term
    // 17 without the committed entries, and another leader then lacked an entry committed in it.
    const result = await runSeed(13254, 5, false);
    assert.equal(result.ok ? "ok" : result.error, "ok");
  });

  it("seed 157: a leader that applies its own removal steps down once its clients' values are acknowledged, and the voters left elect the next", async () => {
    // The check at the end took the leaderless moment after the step-down for a cluster without a
    // leader. Found as seed 516552, whose run no longer meets the case since a full disk stops a
    // server's Raft instead of its process; so the test checks that its run still does.
    const result = await runSeed(157, 5, true);
    assert.equal(result.ok ? "ok" : result.error, "ok");
    const afterHeal = result.trace.slice(result.trace.findIndex((line) => line.includes("heal everything")));
    const ownRemoval = afterHeal.map((line) => /send (\d+)->\d+ append term=(\d+) .*membership\(remove (\d+)\)/.exec(line)).find((match) => match !== null && match[1] === match[3]);
    assert.ok(ownRemoval, "after the heal, a leader sends its own removal");
    const [, leader, term] = ownRemoval;
    const laterLeader = afterHeal.some((line) => {
      const match = /send (\d+)->\d+ append term=(\d+)/.exec(line);
      return match !== null && match[1] !== leader && Number(match[2]) > Number(term);
    });
    assert.ok(laterLeader, "another member leads a later term");
  });

  it(`${seeds} seeds end with no violation`, async () => {
    const summary = await runSeeds({ first: 1, count: seeds, nodes: undefined, stopOnFailure: false });
    const failures = summary.failures.map((f) => `seed ${f.seed} (${f.nodes} nodes): ${f.error} (replay: npm run sim -- --seeds 1 --seed ${f.seed} --nodes ${f.nodes})`);
    assert.deepEqual(failures, []);
    assert.equal(summary.seeds, seeds);
  });
});
