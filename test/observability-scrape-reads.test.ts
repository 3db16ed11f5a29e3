// A scrape of a node's metrics reads the Raft and gossip state once each, however many metrics show
// it, and the next scrape reads them afresh.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { GossipGauges, RaftGauges } from "../src/cluster/cluster-metrics.ts";
import { NodeMetrics } from "../src/observability/node-metrics.ts";
import { sampleValue } from "./support/http-get.ts";

/** The Raft state in `term`, with one peer so that the per-peer gauges are collected too. */
function raftState(term: number): RaftGauges {
  return {
    term,
    commitIndex: 10,
    appliedIndex: 9,
    isLeader: true,
    peers: [{ name: "node-2", matchIndex: 8, rttSeconds: 0.001 }],
    forwardsWaiting: 0,
    forwardsServing: 0,
    transport: { messagesSent: 5, messagesReceived: 4, bytesSent: 500, bytesReceived: 400, messagesDropped: 0 },
  };
}

const gossipState: GossipGauges = {
  membersByState: { alive: 3, suspect: 0, dead: 0, left: 0 },
  healthScore: 0,
  datagramsSent: 1,
  bytesSent: 100,
  datagramsReceived: 1,
  bytesReceived: 100,
  datagramsUnauthenticated: 0,
  probesFailed: 0,
};

test("one scrape reads the Raft and the gossip state once each; the next reads them again", async () => {
  const metrics = new NodeMetrics();
  let raftReads = 0;
  let gossipReads = 0;
  metrics.observeRaft(() => raftState(++raftReads));
  metrics.observeGossip(() => {
    gossipReads++;
    return gossipState;
  });
  const first = (await metrics.exposition()).body;
  assert.deepEqual([raftReads, gossipReads], [1, 1]);
  assert.equal(sampleValue(first, "loghouse_raft_term"), 1);
  assert.equal(sampleValue(first, "loghouse_raft_peer_match_index", { peer: "node-2" }), 8);
  assert.equal(sampleValue(first, "loghouse_raft_messages_sent_total"), 5);
  assert.equal(sampleValue(first, "loghouse_gossip_members", { state: "alive" }), 3);
  const second = (await metrics.exposition()).body;
  assert.deepEqual([raftReads, gossipReads], [2, 2]);
  assert.equal(sampleValue(second, "loghouse_raft_term"), 2, "the second scrape shows the state as it is then");
});
