// The bounded fault run in CI (npm run chaos runs the same for longer): SIGKILL, SIGSTOP/SIGCONT,
// restarts and, where network namespaces are permitted, partitions (the leader or a node cut off,
// flapping links, one-way drops), at random under continuous ingestion by routing clients that
// retry every produce until it is acknowledged (exactly-once); nothing acknowledged may be lost or
// moved, nothing written doubled, and the nodes may not diverge; a following consumer sees every
// record once, in order, across every failover. The cluster runs secured (TLS, mutual TLS between
// peers, the sample ACL). FAULT_RUN_SEED replays a run's schedule.
import assert from "node:assert/strict";
import { test } from "node:test";
import { devCerts } from "./support/dev-certs.ts";
import { runFaults } from "./support/fault-run.ts";
import { NetworkLab } from "./support/network-lab.ts";
import { tempDir } from "./support/temp-dir.ts";

const DURATION_MS = Number(process.env.FAULT_RUN_MS ?? 60_000);
const SEED = Number(process.env.FAULT_RUN_SEED ?? Math.floor(Math.random() * 2 ** 31));
const labUnavailable = NetworkLab.unavailable();

test("network partitions join the fault run", { skip: labUnavailable }, () => {
  // The fault run below says in its diagnostics which kinds of fault it used; this test makes a
  // machine without namespaces show a skip instead of a silent pass.
});

test(`fault run of ${DURATION_MS / 1000} s: no acknowledged record lost, doubled or moved; no divergence`, { timeout: DURATION_MS + 300_000 }, async (t) => {
  const lab = labUnavailable === undefined ? NetworkLab.create([1, 2, 3]) : undefined;
  try {
    t.diagnostic(`seed ${SEED} (replay: FAULT_RUN_SEED=${SEED}); partitions ${lab === undefined ? `skipped: ${labUnavailable}` : lab.oneWay ? "on, with one-way drops" : "on, without one-way drops (no nft)"}`);
    // With TLS on: the nodes' and peers' TLS and the ACL are part of what the faults must not break.
    const result = await runFaults({ root: await tempDir(t), durationMs: DURATION_MS, seed: SEED, lab, certs: await devCerts(t) });
    const { follow } = result;
    t.diagnostic(`faults ${result.faults} ${JSON.stringify(result.faultsByKind)}; ${result.acknowledged} records acknowledged from ${result.attempts} produce calls (${result.abandoned} abandoned: ${JSON.stringify(result.abandonedReasons)})`);
    t.diagnostic(`lost ${result.lost}, duplicated ${result.duplicated}, moved ${result.moved}, divergent nodes ${result.divergentNodes}; following consumer: ${follow.delivered} delivered, missing ${follow.missing}, repeated ${follow.repeated}, misordered ${follow.misordered}`);
    for (const example of result.abandonedExamples) t.diagnostic(`abandoned at ${example}`);
    assert.ok(result.faults > 0 && result.acknowledged > 0, "the run did something");
    assert.deepEqual(
      { lost: result.lost, duplicated: result.duplicated, moved: result.moved, divergentNodes: result.divergentNodes },
      { lost: 0, duplicated: 0, moved: 0, divergentNodes: 0 },
      `seed ${SEED}: ${result.examples.join("; ") || "no examples"}`,
    );
    assert.deepEqual(
      { missing: follow.missing, repeated: follow.repeated, misordered: follow.misordered, failure: follow.failure },
      { missing: 0, repeated: 0, misordered: 0, failure: undefined },
      `seed ${SEED}, following consumer: ${follow.examples.join("; ") || "no examples"}`,
    );
  } finally {
    lab?.destroy();
  }
});
