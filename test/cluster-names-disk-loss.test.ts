// Disks lost one after another in a 3-node cluster of real processes, the leader's among them: each
// time the node is SIGKILLed, its data directory deleted, records are acknowledged without it, and it
// starts again under its name with --join. It must come back as a voter with a new Raft id and no
// command typed, and at the end every node holds every acknowledged record, once and in place. (With
// the Raft id reused, a node that forgot its votes and log could count as the voter it was: the
// simulator's seed 13254.) Which node loses its disk after the first round is drawn from a seed the
// test prints.
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { cleanup } from "./support/cleanup.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { assertReplicasIntact } from "./support/replica-check.ts";
import { tempDir } from "./support/temp-dir.ts";
import { TestRandom } from "./support/test-random.ts";

const IDS = [1, 2, 3] as const;
const ROUNDS = 3;

async function raftIdOf(cluster: ProcessCluster, id: number): Promise<number> {
  return (JSON.parse(await readFile(join(cluster.dataDir(id), "raft-state.json"), "utf8")) as { nodeId: number }).nodeId;
}

test(`${ROUNDS} disks lost in turn (the leader's first): each node rejoins by name under a new Raft id and loses nothing`, async (t) => {
  const random = TestRandom.forTest(t);
  const root = await tempDir(t);
  const cluster = new ProcessCluster(root);
  cleanup(t, () => cluster.stopAll());
  await cluster.form(3);
  const acknowledged = new Map<number, string>();
  const produce = async (): Promise<void> => {
    const values = Array.from({ length: 20 }, () => random.bytes(16));
    const first = Number(await cluster.client(await cluster.leader()).produceBatch(values));
    values.forEach((value, i) => acknowledged.set(first + i, value.toString("hex")));
  };
  await produce();
  const raftIds = new Set<number>();
  for (const id of IDS) raftIds.add(await raftIdOf(cluster, id));

  for (let round = 0; round < ROUNDS; round++) {
    const lost = round === 0 ? await cluster.leader() : IDS[random.int(0, IDS.length)]!;
    const contact = IDS.find((id) => id !== lost)!;
    t.diagnostic(`round ${round}: node ${lost} loses its disk`);
    await cluster.signal(lost, "SIGKILL");
    await cluster.wipe(lost);
    await produce();
    await cluster.start(lost, { joinVia: contact });
    // Its own view holds three voters only once it applied its promotion, which follows the removal
    // of its old Raft id in the log.
    await cluster.voters(lost, 3, 60_000);
    const raftId = await raftIdOf(cluster, lost);
    assert.ok(!raftIds.has(raftId), `node ${lost} drew a Raft id never used before`);
    raftIds.add(raftId);
    const servers = await cluster.client(contact).servers();
    assert.deepEqual(servers.map((server) => server.id).sort(), ["1", "2", "3"], "each name once: the old Raft id is gone");
    await produce();
  }

  assertReplicasIntact(acknowledged, await cluster.converged([...IDS], acknowledged, 60_000));
});
