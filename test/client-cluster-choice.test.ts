// Which cluster the routing client keeps to when its addresses answer for two (cluster-view.ts), with
// scripted nodes over real sockets whose GetServers answers come in the order the test chooses: the
// order decides nothing. A node of a second cluster (a member bootstrapped again) lists only itself;
// the first cluster's members list every member, that node's address among them.
//   - the second cluster's node answering first, in a higher term: the client waits for the members
//     it does not list, and refuses to pick (ClusterMismatchError) for every call, concurrent ones,
//     reads and later ones too, sending none anywhere;
//   - the first cluster answering first: every seed is a member it lists, so the client keeps to it
//     at once and names it in its calls (which the other node would refuse: cluster-identity.test.ts);
//   - named by the caller, the cluster is kept to whichever answers first;
//   - a member that refuses a call as a node of another cluster (CLUSTER_MISMATCH) is passed over,
//     and the call goes to the leader learned again.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { ClusterMismatchError } from "../src/errors.ts";
import { cleanup } from "./support/cleanup.ts";
import { freePort } from "./support/free-port.ts";
import { failure, scriptedNode, type ScriptedNode } from "./support/scripted-node.ts";

const FIRST = "1111111111111111";
const SECOND = "2222222222222222";
/** How much later the slower of the two clusters answers GetServers. */
const LATER_MS = 300;

/** A member of the first cluster (leading, listing `rogue` as a follower) and a second cluster's node at `rogue`, with their answer delays. */
async function twoClusters(t: TestContext, delays: { first: number; second: number }, rogueTerm = 1n): Promise<{ member: ScriptedNode; rogue: ScriptedNode }> {
  const roguePort = await freePort();
  const rogueAddress = `127.0.0.1:${roguePort}`;
  const member = await scriptedNode(t, [], {
    clusterId: FIRST,
    serversDelayMs: delays.first,
    members: (self) => [{ id: "1", rpcAddr: self, isLeader: true, term: 3n }, { id: "2", rpcAddr: rogueAddress, isLeader: false, term: 3n }],
  });
  const rogue = await scriptedNode(t, [], {
    port: roguePort,
    clusterId: SECOND,
    serversDelayMs: delays.second,
    members: (self) => [{ id: "2", rpcAddr: self, isLeader: true, term: rogueTerm }],
  });
  return { member, rogue };
}

function client(t: TestContext, addresses: string[], clusterId?: string): ClusterClient {
  const made = new ClusterClient(addresses, { callTimeoutMs: 5_000, produceDelivery: "at-most-once", ...(clusterId === undefined ? {} : { clusterId }) });
  cleanup(t, () => made.close());
  return made;
}

test("the second cluster's node answering first: the client hears the members it does not list and refuses to pick, for every call", async (t) => {
  // In a higher term than the first cluster's: the newest leader answer is the second cluster's.
  const { member, rogue } = await twoClusters(t, { first: LATER_MS, second: 0 }, 9n);
  const unnamed = client(t, [rogue.address, member.address]);
  const mismatch = (error: unknown): boolean => {
    assert.ok(error instanceof ClusterMismatchError, String(error));
    assert.match(error.message, new RegExp(`2 clusters \\(${SECOND} at ${rogue.address}; ${FIRST} at ${member.address}\\)`));
    return true;
  };
  // Calls made while the seeds are being heard wait for the verdict; later ones hear them again.
  await Promise.all([assert.rejects(unnamed.produce(Buffer.from("x")), mismatch), assert.rejects(unnamed.produce(Buffer.from("y")), mismatch), assert.rejects(unnamed.read(7n), mismatch)]);
  await assert.rejects(unnamed.produce(Buffer.from("z")), mismatch);
  await assert.rejects(unnamed.read(7n), mismatch);
  assert.equal(rogue.calls() + member.calls(), 0, "no produce or read was sent");
});

test("the first cluster answering first lists every seed: the client keeps to it at once and names it in its calls", async (t) => {
  const { member, rogue } = await twoClusters(t, { first: 0, second: 5_000 });
  const unnamed = client(t, [rogue.address, member.address]);
  const started = performance.now();
  assert.equal(await unnamed.produce(Buffer.from("x")), 7n);
  assert.ok(performance.now() - started < 2_000, "the slow node was not waited for");
  assert.deepEqual(member.producedFor, [FIRST]);
  assert.equal(rogue.produced.length, 0);
});

test("a cluster named by the caller is kept to, whichever answers first", async (t) => {
  const { member, rogue } = await twoClusters(t, { first: LATER_MS, second: 0 });
  const named = client(t, [rogue.address, member.address], FIRST);
  assert.equal(await named.produce(Buffer.from("x")), 7n);
  assert.deepEqual(member.producedFor, [FIRST]);
  assert.equal(rogue.produced.length, 0);
});

test("a member that refuses a call as a node of another cluster is passed over for the leader learned again", async (t) => {
  const takenPort = await freePort();
  const taken = `127.0.0.1:${takenPort}`;
  const leader = await scriptedNode(t, [], {
    clusterId: FIRST,
    members: (self) => [{ id: "1", rpcAddr: self, isLeader: true, term: 4n }, { id: "2", rpcAddr: taken, isLeader: false, term: 4n }],
  });
  // Names itself leader until it has refused a produce (as a node of another cluster would: the
  // answer of a stale view), then the real leader.
  let refusing: ScriptedNode | undefined;
  refusing = await scriptedNode(t, [failure(grpc.status.FAILED_PRECONDITION, "CLUSTER_MISMATCH")], {
    port: takenPort,
    clusterId: FIRST,
    members: (self) =>
      refusing!.calls() === 0
        ? [{ id: "2", rpcAddr: self, isLeader: true, term: 5n }, { id: "1", rpcAddr: leader.address, isLeader: false, term: 5n }]
        : [{ id: "2", rpcAddr: self, isLeader: false, term: 6n }, { id: "1", rpcAddr: leader.address, isLeader: true, term: 6n }],
  });
  const routing = client(t, [taken], FIRST);
  assert.equal(await routing.produce(Buffer.from("x")), 7n);
  assert.deepEqual(refusing.producedFor, [FIRST], "the refusing node was asked once");
  assert.deepEqual(leader.producedFor, [FIRST]);
});
