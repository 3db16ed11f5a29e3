// Repair instead of crash, with real node processes: one byte flipped in a sealed segment of a
// stopped follower, or of the former leader once it has lost leadership, used to make the node crash
// at every start. Now it starts, finds the damaged records, fetches them again from its peers
// (verified by checksum and term), and afterwards serves every record identical to the leader.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test, type TestContext } from "node:test";
import { startNode, stopNode } from "./support/node-process.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { assertReplicasIntact } from "./support/replica-check.ts";
import { flipByte } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { cleanup } from "./support/cleanup.ts";

/** Segments of 100 records, so that a few hundred records make several sealed ones. */
const SEGMENT_RECORDS = 100;

async function produce(cluster: ProcessCluster, via: number, acknowledged: Map<number, string>, batches: number): Promise<void> {
  for (let i = 0; i < batches; i++) {
    const values = Array.from({ length: 60 }, () => randomBytes(24));
    const first = Number(await cluster.client(via).produceBatch(values));
    values.forEach((value, j) => acknowledged.set(first + j, value.toString("hex")));
  }
}

/** Flips one byte in the middle of the store of the second sealed segment of node `id` (stopped); returns its path. */
async function damageSealedSegment(cluster: ProcessCluster, id: number): Promise<string> {
  const directory = join(cluster.dataDir(id), "log");
  const stores = (await readdir(directory)).filter((name) => name.endsWith(".store")).sort();
  assert.ok(stores.length >= 4, `several sealed segments, found ${stores.join(", ")}`);
  const path = join(directory, stores[1]!);
  await flipByte(path, Math.floor((await stat(path)).size / 2));
  return path;
}

/** Restarts node `id` on its data directory and waits until it says it repaired its log from the peers. */
async function restartAndRepair(t: TestContext, cluster: ProcessCluster, id: number, config: string): Promise<void> {
  const node = await startNode(["--data-dir", cluster.dataDir(id), "--listen", cluster.address(id), "--node-id", String(id), "--config", config]);
  cleanup(t, () => stopNode(node));
  const found = await node.waitForLine((line) => line.msg === "damaged records found: fetching them again from the peers", 15_000);
  assert.ok(Array.isArray(found.ranges) && found.ranges.length > 0, "the damaged ranges are named");
  const repaired = await node.waitForLine((line) => line.msg === "log repaired from the peers: Raft restarts", 15_000);
  const ms = Date.parse(String(repaired.time)) - Date.parse(String(found.time));
  t.diagnostic(`node ${id}: damaged ${JSON.stringify(found.ranges)}, ${String(repaired.recordsReplaced)} records replaced in ${ms} ms`);
}

/** Every node serves the same records as the leader, each acknowledged one where it was acknowledged. */
async function assertIdenticalToLeader(cluster: ProcessCluster, acknowledged: Map<number, string>, leader: number): Promise<void> {
  const held = await cluster.converged([1, 2, 3], acknowledged, 30_000);
  assertReplicasIntact(acknowledged, held);
  for (const id of [1, 2, 3]) assert.deepEqual(held.get(id), held.get(leader), `node ${id} serves exactly the leader's records`);
}

describe("repairing a damaged sealed segment from the quorum", { timeout: 120_000 }, () => {
  async function formCluster(t: TestContext): Promise<{ cluster: ProcessCluster; config: string; acknowledged: Map<number, string> }> {
    const root = await tempDir(t);
    const config = join(root, "node.json");
    await writeFile(config, JSON.stringify({ log: { indexEntriesMax: SEGMENT_RECORDS } }));
    const cluster = new ProcessCluster(root, undefined, ["--config", config]);
    cleanup(t, () => cluster.stopAll());
    await cluster.form();
    const acknowledged = new Map<number, string>();
    await produce(cluster, await cluster.leader(), acknowledged, 8);
    await cluster.converged([1, 2, 3], acknowledged, 30_000);
    return { cluster, config, acknowledged };
  }

  test("a stopped follower with a flipped byte starts, repairs, and serves what the leader serves", async (t) => {
    const { cluster, config, acknowledged } = await formCluster(t);
    const leader = await cluster.leader();
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    await cluster.signal(follower, "SIGKILL");
    await damageSealedSegment(cluster, follower);
    await produce(cluster, leader, acknowledged, 2);
    await restartAndRepair(t, cluster, follower, config);
    await assertIdenticalToLeader(cluster, acknowledged, leader);
  });

  test("the former leader's disk with a flipped byte, after it lost leadership: repaired the same way", async (t) => {
    const { cluster, config, acknowledged } = await formCluster(t);
    const formerLeader = await cluster.leader();
    await cluster.signal(formerLeader, "SIGKILL");
    const leader = await cluster.leader();
    assert.notEqual(leader, formerLeader);
    await damageSealedSegment(cluster, formerLeader);
    await produce(cluster, leader, acknowledged, 2);
    await restartAndRepair(t, cluster, formerLeader, config);
    await assertIdenticalToLeader(cluster, acknowledged, leader);
  });
});
