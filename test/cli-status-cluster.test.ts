// `loghouse status` (the real binary) against a 3-node cluster of real processes: every member with
// its role, liveness, term and lag as the leader sees it; what a follower can tell (every member's
// liveness, from gossip; no lag); `consume --from 0` reading from the log's start at offset 1; and a
// SIGKILLed follower turning suspect, then dead, in the leader's answer; and with a second one gone,
// the survivor knowing no leader, which status says with exit 1.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ProcessCluster } from "./support/process-cluster.ts";
import { runCli } from "./support/run-cli.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";
import { cleanup } from "./support/cleanup.ts";

interface MemberLine {
  id: string;
  rpcAddr: string;
  isLeader: boolean;
  role: string;
  liveness: string;
  term: string;
  lag: string | null;
}

async function members(cluster: ProcessCluster, id: number): Promise<MemberLine[]> {
  const result = await runCli(["status", "--server", cluster.address(id)]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal((JSON.parse(result.stdout) as { leader: string | null }).leader !== null, true, "a leader is known");
  return (JSON.parse(result.stdout) as { servers: MemberLine[] }).servers;
}

test("status shows each member's role, liveness, term and lag; a killed follower turns suspect, then dead", { timeout: 120_000 }, async (t) => {
  const cluster = new ProcessCluster(await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form(3);
  const leader = await cluster.leader();
  const [follower, other] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
  await runCli(["produce", "--server", cluster.address(follower)], { input: "a\nb\nc\n" });

  // The leader knows everyone: all alive voters in its term, each caught up once replication settles.
  const fromLeader = await waitUntilAsync("every member caught up", async () => {
    const lines = await members(cluster, leader);
    return lines.every((line) => line.lag === "0") ? lines : undefined;
  });
  const term = fromLeader[0]!.term;
  assert.ok(Number(term) >= 1, `term ${term}`);
  assert.deepEqual(
    fromLeader.map(({ id, rpcAddr, isLeader, role, liveness }) => ({ id, rpcAddr, isLeader, role, liveness })).sort((a, b) => a.id.localeCompare(b.id)),
    [1, 2, 3].map((id) => ({ id: String(id), rpcAddr: cluster.address(id), isLeader: id === leader, role: "voter", liveness: "alive" })),
  );
  assert.ok(fromLeader.every((line) => line.term === term));

  // A cluster's log starts at offset 1 (index 1 is its start point): --from 0 reads from the start, saying so.
  const fromZero = await runCli(["consume", "--server", cluster.address(follower), "--from", "0", "--count", "3"]);
  assert.equal(fromZero.code, 0, fromZero.stderr);
  assert.deepEqual(fromZero.stdout.trim().split("\n"), ["a", "b", "c"]);
  assert.match(fromZero.stderr, /offset 0 is before the log's start; reading from 1/);

  // A follower knows every member's liveness from gossip, and nobody's lag.
  const fromFollower = await members(cluster, follower);
  assert.deepEqual(fromFollower.map((line) => line.liveness), ["alive", "alive", "alive"]);
  assert.ok(fromFollower.every((line) => line.lag === null && line.term === term));

  await cluster.signal(other, "SIGKILL");
  const livenessOfOther = async (): Promise<string> => (await members(cluster, leader)).find((line) => line.id === String(other))!.liveness;
  // Gossip at memberlist's LAN timings: suspect a probe or two (1 to 2 s) after its death, dead once
  // its suspicion times out (4 to 24 s).
  await waitUntilAsync("the killed follower to be suspect", async () => (await livenessOfOther()) === "suspect", 20_000);
  await waitUntilAsync("the killed follower to be dead", async () => (await livenessOfOther()) === "dead", 30_000);

  // With a second member gone the cluster has no quorum: the survivor knows no leader, and says so
  // with exit 1 (a container's health check through status turns unhealthy), though it still serves reads.
  await cluster.signal(follower, "SIGKILL");
  const leaderless = await waitUntilAsync("the survivor to know no leader", async () => {
    const result = await runCli(["status", "--server", cluster.address(leader)]);
    return result.code === 1 ? result : undefined;
  }, 30_000);
  const answer = JSON.parse(leaderless.stdout) as { health: string; leader: string | null };
  assert.deepEqual([answer.health, answer.leader], ["SERVING", null]);
});
