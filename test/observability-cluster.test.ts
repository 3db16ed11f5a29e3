// A 3-node cluster of real processes watched the way an operator would: its members' /metrics,
// /readyz and log lines. Forming it logs the joins and promotions; a SIGKILLed leader shows on a
// survivor as "peer lost" and "leader changed" lines, a higher loghouse_raft_term and a higher
// loghouse_leader_changes_total, and the cluster serves again; restarted, the old leader is
// "reachable again".
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { cleanup } from "./support/cleanup.ts";
import { freePort } from "./support/free-port.ts";
import { httpGet, sampleValue } from "./support/http-get.ts";
import { startNode, stopNode, type NodeProcess } from "./support/node-process.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";

const NODE_IDS = [1, 2, 3] as const;

/** The exposition text of one scrape of `node`'s /metrics. */
async function scrape(node: NodeProcess): Promise<string> {
  return (await httpGet(`http://${node.address}/metrics`)).body;
}

function metric(exposition: string, name: string): number {
  const value = sampleValue(exposition, name);
  assert.notEqual(value, undefined, `${name} is exposed`);
  return value!;
}

/** The member whose /metrics says it leads, among `nodes`. */
async function leaderAmong(nodes: ReadonlyMap<number, NodeProcess>): Promise<number> {
  return waitUntilAsync("one member to report loghouse_raft_is_leader 1", async () => {
    for (const [id, node] of nodes) if (sampleValue(await scrape(node), "loghouse_raft_is_leader") === 1) return id;
    return undefined;
  }, 30_000);
}

test("a leader SIGKILLed shows in a survivor's logs, term and leader_changes_total; readyz follows the cluster", async (t) => {
  const root = await tempDir(t);
  const ports = new Map<number, number>();
  for (const id of NODE_IDS) ports.set(id, await freePort());
  const nodes = new Map<number, NodeProcess>();
  /** Starts node `id` (a restart resumes its data directory: --bootstrap and --join then change nothing). */
  const start = async (id: number): Promise<NodeProcess> => {
    const args = ["--data-dir", join(root, `node-${id}`), "--listen", `127.0.0.1:${ports.get(id)}`, "--node-id", String(id)];
    args.push(...(id === 1 ? ["--bootstrap"] : ["--join", `127.0.0.1:${ports.get(1)}`]));
    const node = await startNode(args);
    cleanup(t, () => stopNode(node));
    nodes.set(id, node);
    return node;
  };
  for (const id of NODE_IDS) await start(id);
  // Every member logs the changes it applies: node 1 sees both others join and be promoted.
  for (const id of [2, 3]) {
    await nodes.get(1)!.waitForLine((line) => line.msg === "member joined as a learner" && line.member === String(id), 30_000);
    await nodes.get(1)!.waitForLine((line) => line.msg === "member promoted to voter" && line.member === String(id), 30_000);
  }
  const oldLeader = await leaderAmong(nodes);
  for (const node of nodes.values()) {
    await waitUntilAsync("every member ready (a leader known)", async () => (await httpGet(`http://${node.address}/readyz`)).status === 200, 30_000);
  }
  const leaderScrape = await scrape(nodes.get(oldLeader)!);
  // The member's log is the Raft log: offsets and indexes move together (a cluster's log starts at 1).
  assert.ok(metric(leaderScrape, "loghouse_raft_commit_index") >= 3, "the two joins and promotions are committed");
  assert.ok(metric(leaderScrape, "loghouse_log_next_offset") >= metric(leaderScrape, "loghouse_raft_commit_index"));
  assert.ok(metric(leaderScrape, "loghouse_raft_messages_sent_total") > 0 && metric(leaderScrape, "loghouse_raft_sent_bytes_total") > 0, "the leader's Raft traffic");
  assert.ok(metric(leaderScrape, "loghouse_raft_messages_received_total") > 0, "its followers' answers");
  const followers = NODE_IDS.filter((id) => id !== oldLeader);
  for (const id of followers) {
    const rtt = sampleValue(leaderScrape, "loghouse_raft_peer_rtt_seconds", { peer: String(id) });
    assert.ok(rtt !== undefined && rtt >= 0 && rtt < 5, `the leader measured a heartbeat round trip to ${id}: ${rtt}`);
    assert.ok(sampleValue(leaderScrape, "loghouse_raft_peer_match_index", { peer: String(id) }) !== undefined, `match index of ${id}`);
  }
  const before = new Map<number, { term: number; changes: number }>();
  for (const id of followers) {
    const exposition = await scrape(nodes.get(id)!);
    before.set(id, { term: metric(exposition, "loghouse_raft_term"), changes: metric(exposition, "loghouse_leader_changes_total") });
    assert.equal(metric(exposition, "loghouse_raft_is_leader"), 0);
  }

  const killed = nodes.get(oldLeader)!;
  killed.child.kill("SIGKILL");
  await killed.exited;
  nodes.delete(oldLeader);

  const newLeader = await leaderAmong(nodes);
  assert.notEqual(newLeader, oldLeader);
  for (const id of followers) {
    const node = nodes.get(id)!;
    const after = await waitUntilAsync(`node ${id} to count the new leader`, async () => {
      const exposition = await scrape(node);
      const seen = { term: metric(exposition, "loghouse_raft_term"), changes: metric(exposition, "loghouse_leader_changes_total") };
      return seen.changes > before.get(id)!.changes ? seen : undefined;
    }, 30_000);
    assert.ok(after.term > before.get(id)!.term, `node ${id}'s term rose: ${before.get(id)!.term} → ${after.term}`);
    const changed = await node.waitForLine((line) => line.msg === "leader changed" && line.leader === String(newLeader), 10_000);
    assert.ok((changed.term as number) > before.get(id)!.term, "the line names the new term");
    t.diagnostic(`node ${id}: term ${before.get(id)!.term} → ${after.term}, leader changes ${before.get(id)!.changes} → ${after.changes}`);
  }
  // The new leader heartbeats the dead node: its failed connections say so once.
  const lost = await nodes.get(newLeader)!.waitForLine((line) => line.msg === "peer lost" && line.peer === String(oldLeader), 30_000);
  assert.equal(lost.level, "warn");
  assert.equal(nodes.get(newLeader)!.lines.filter((line) => line.msg === "peer lost" && line.peer === String(oldLeader)).length, 1, "one line, not one per redial");
  for (const node of nodes.values()) {
    await waitUntilAsync("the survivors ready again", async () => (await httpGet(`http://${node.address}/readyz`)).status === 200, 30_000);
  }
  // The old leader restarts over its data: the new leader hears from it again and says so.
  await start(oldLeader);
  await nodes.get(newLeader)!.waitForLine((line) => line.msg === "peer reachable again" && line.peer === String(oldLeader), 30_000);
});

test("/readyz is 503 with its reason while a member knows no leader, and /healthz 200 all along", async (t) => {
  const root = await tempDir(t);
  // Nobody listens at the contact: the new member keeps asking to join and never learns of a leader.
  const node = await startNode(["--data-dir", join(root, "node-7"), "--listen", `127.0.0.1:${await freePort()}`, "--node-id", "7", "--join", `127.0.0.1:${await freePort()}`]);
  cleanup(t, () => stopNode(node));
  const ready = await httpGet(`http://${node.address}/readyz`);
  assert.deepEqual([ready.status, ready.body], [503, "not ready: no leader known\n"]);
  assert.equal((await httpGet(`http://${node.address}/healthz`)).status, 200);
});
