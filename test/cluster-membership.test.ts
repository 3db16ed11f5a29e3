// Cluster life cycle over real sockets: a node bootstraps a cluster, others join through any member
// (redirected to the leader), catch up as learners and become voters; a member leaves; a member
// whose data directory was lost comes back under its name with a new Raft id and catches up again.
import assert from "node:assert/strict";
import { once } from "node:events";
import { rm } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { sendAdminRequest } from "../src/cluster/admin-protocol.ts";
import { ClusterNode } from "../src/cluster/cluster-node.ts";
import { NodeRemovedError } from "../src/errors.ts";
import { Role } from "../src/raft/index.ts";
import { freePort } from "./support/free-port.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntil } from "./support/wait-until.ts";
import { cleanup } from "./support/cleanup.ts";

/** Node `number`, named by it, with its data in node-<number>. */
async function startNode(root: string, number: number, port: number, bootstrap = false): Promise<ClusterNode> {
  const node = await ClusterNode.open({ dataDir: join(root, `node-${number}`), name: String(number), address: `127.0.0.1:${port}`, bootstrap, tickMs: 10, promoteEveryMs: 20 });
  await node.listen("127.0.0.1", port);
  return node;
}

function values(tag: string, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from(`${tag}-${i}`));
}

function dataRecords(node: ClusterNode): string[] {
  const view = node.replica.committed;
  if (view.highestOffset === undefined) return [];
  return view.readRange(view.lowestOffset, { bytesMax: 1 << 24 }).filter((r) => r.type === 0).map((r) => `${r.offset}:${r.value}`);
}

test("bootstrap, join through a follower, promotion, leave, and catching up from an empty directory", async (t) => {
  const root = await tempDir(t);
  const ports = [await freePort(), await freePort(), await freePort()];
  const nodes = new Map<number, ClusterNode>();
  cleanup(t, async () => {
    for (const node of nodes.values()) await node.close();
  });
  nodes.set(1, await startNode(root, 1, ports[0]!, true));
  const first = nodes.get(1)!;
  await waitUntil("the bootstrap node to lead", () => first.replica.isLeader);
  await first.replica.propose(values("solo", 10));

  nodes.set(2, await startNode(root, 2, ports[1]!));
  await nodes.get(2)!.joinCluster(`127.0.0.1:${ports[0]}`);
  await waitUntil("node 2 to become a voter", () => first.replica.status().membership.voters.includes(nodes.get(2)!.nodeId));

  nodes.set(3, await startNode(root, 3, ports[2]!));
  await nodes.get(3)!.joinCluster(`127.0.0.1:${ports[1]}`);
  await waitUntil("node 3 to become a voter", () => first.replica.status().membership.voters.length === 3);
  const raftIds = [1, 2, 3].map((number) => nodes.get(number)!.nodeId);
  assert.deepEqual(first.replica.status().membership, { voters: [...raftIds].sort((a, b) => a - b), learners: [] });

  const leader = [...nodes.values()].find((node) => node.replica.isLeader)!;
  const offset = await leader.replica.propose(values("trio", 10));
  await waitUntil("every node to commit the trio", () => [...nodes.values()].every((node) => node.replica.committed.nextOffset > offset + 9));
  const expected = dataRecords(leader);
  assert.equal(expected.length, 20);
  for (const node of nodes.values()) assert.deepEqual(dataRecords(node), expected, `node ${node.nodeId} holds the same records`);
  assert.deepEqual(nodes.get(3)!.addresses, first.addresses, "every member knows every address");

  // Node 2 loses its disk: it comes back empty under the same name with a new Raft id, which
  // replaces the old one, and catches up from the leader.
  await nodes.get(2)!.close();
  nodes.delete(2);
  await rm(join(root, "node-2"), { recursive: true, force: true });
  nodes.set(2, await startNode(root, 2, ports[1]!));
  await nodes.get(2)!.joinCluster(`127.0.0.1:${ports[0]}`);
  await waitUntil("node 2 to catch up", () => dataRecords(nodes.get(2)!).length === 20, 20_000);
  assert.deepEqual(dataRecords(nodes.get(2)!), expected);
  assert.notEqual(nodes.get(2)!.nodeId, raftIds[1]);
  assert.ok(!first.replica.status().membership.voters.includes(raftIds[1]!), "the old Raft id is gone");

  await [...nodes.values()].find((node) => node.replica.isLeader)!.removeMember("3");
  await waitUntil("node 3 to be removed", () => !first.replica.status().membership.voters.includes(raftIds[2]!));
  await waitUntil("node 3 to learn it was removed", () => {
    try {
      nodes.get(3)!.assertMember();
      return false;
    } catch (error) {
      return error instanceof NodeRemovedError;
    }
  });
  // Node 2 applied the removal of its old Raft id on its way back: still a member.
  nodes.get(2)!.assertMember();
  const after = [...nodes.values()].find((node) => node.replica.isLeader && node.nodeId !== raftIds[2]);
  assert.ok(after === undefined || after.replica.status().role === Role.Leader);
});

/** Checks `holds` every few milliseconds for `ms`: a promise that fails the moment it stops holding. */
async function holdsThroughout(describe: string, holds: () => boolean, ms: number): Promise<void> {
  const until = Date.now() + ms;
  await waitUntil(`${ms} ms to pass while ${describe}`, () => {
    assert.ok(holds(), `${describe} stopped holding`);
    return Date.now() >= until;
  }, ms + 5_000);
}

test("a learner that never answers stays a learner; one joined after it is promoted", async (t) => {
  const root = await tempDir(t);
  const port = await freePort();
  // Accepts the leader's Raft connection and reads everything, answering nothing.
  const silent = createServer((socket) => socket.resume());
  silent.listen(0, "127.0.0.1");
  await once(silent, "listening");
  const silentAddress = `127.0.0.1:${(silent.address() as AddressInfo).port}`;
  const nodes: ClusterNode[] = [];
  cleanup(t, async () => {
    for (const node of nodes) await node.close();
    silent.close();
  });
  const leader = await startNode(root, 1, port, true);
  nodes.push(leader);
  await waitUntil("the bootstrap node to lead", () => leader.replica.isLeader);
  await leader.replica.propose(values("before", 10));

  const admitted = await sendAdminRequest(`127.0.0.1:${port}`, { op: "join", name: "silent", nodeId: 9, address: silentAddress });
  assert.equal(admitted.ok, true);
  assert.deepEqual(leader.replica.status().membership, { voters: [leader.nodeId], learners: [9] });
  // 100 promotion periods (20 ms) and 20 election timeouts (100 ms): time enough to be promoted if it could be.
  const silentIsLearner = (): boolean => leader.replica.status().membership.learners.includes(9);
  await holdsThroughout("node 9 is a learner", silentIsLearner, 2_000);

  const real = await startNode(root, 2, await freePort());
  nodes.push(real);
  await real.joinCluster(`127.0.0.1:${port}`);
  await waitUntil("node 2 to become a voter", () => {
    assert.ok(silentIsLearner(), "node 9 stays a learner");
    return leader.replica.status().membership.voters.includes(real.nodeId);
  });
  assert.deepEqual(leader.replica.status().membership, { voters: [leader.nodeId, real.nodeId].sort((a, b) => a - b), learners: [9] });
  // The cluster still commits: the silent node never counted toward its quorum.
  const offset = await leader.replica.propose(values("after", 1));
  await waitUntil("node 2 to commit the write", () => real.replica.committed.nextOffset > offset);
});
