// Membership by gossip with real `loghouse serve` processes and fast gossip timings
// (test/support/gossip-cluster.ts): five named nodes form a cluster from ONE seed address with no
// other command; a follower killed with SIGKILL shows `suspect`, then `dead` in GetServers and
// `loghouse status` on another follower, and once dead past --dead-member-timeout the leader's
// autopilot removes it from Raft; back with the same name and an empty data directory it is a voter
// again, with no command typed; stopped with SIGTERM it shows `left`, is kept past the timeout, and
// restarted over its data directory is alive again. The quorum guard: with 3 voters and --min-voters 3 a dead member is
// kept (and the decision logged), and its replacement takes its place under a new Raft id. A second
// process started under a live member's name is refused, and every node still shows the member alive.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Server_Liveness } from "../src/gen/log/v1/log_pb.ts";
import { stopNode } from "./support/node-process.ts";
import { GossipCluster } from "./support/gossip-cluster.ts";
import { httpGet } from "./support/http-get.ts";
import { runCli } from "./support/run-cli.ts";
import { waitUntil, waitUntilAsync } from "./support/wait-until.ts";

const DEAD_MEMBER_TIMEOUT_MS = 6_000;
/**
 * Bounds from the local gossip timings, with room for a loaded machine: a member probes one other
 * every 200 ms, so with 4 probers a dead member misses a probe within a few hundred ms; suspicion
 * then lasts 0.4 s at least and 2.4 s at most (localGossipConfig: 2 x 200 ms, up to 6 times that).
 */
const SUSPECT_WITHIN_MS = 3_000;
const SUSPICION_MAX_MS = 2_400;
const SLACK_MS = 2_000;
/** Joins of a namesake refused while the member must stay alive: its retries back off to 1 s, so about 8 s. */
const NAMESAKE_REFUSALS = 12;

/** Polls `observer`'s view of `member` until it is dead; returns when it was first seen suspect and dead (ms after `fromMs`). */
async function watchDying(cluster: GossipCluster, observer: string, member: string, fromMs: number): Promise<{ suspectMs: number; deadMs: number }> {
  let suspectMs: number | undefined;
  const deadMs = await waitUntilAsync(`${observer} to see ${member} dead`, async () => {
    const liveness = (await cluster.servers(observer)).find((server) => server.id === member)?.liveness;
    if (liveness === Server_Liveness.SUSPECT) suspectMs ??= performance.now() - fromMs;
    return liveness === Server_Liveness.DEAD && performance.now() - fromMs;
  }, 30_000);
  assert.ok(suspectMs !== undefined, `${observer} never reported ${member} suspect before dead`);
  return { suspectMs, deadMs };
}

/** `loghouse status` on `server`: each member's liveness by name. */
async function statusLiveness(server: string): Promise<Record<string, string>> {
  const status = await runCli(["status", "--server", server]);
  assert.equal(status.code, 0, status.stderr);
  const { servers } = JSON.parse(status.stdout) as { servers: { id: string | number; liveness: string }[] };
  return Object.fromEntries(servers.map((server) => [String(server.id), server.liveness]));
}

test("five named nodes form a cluster by gossip from one seed; a killed follower goes suspect, dead, removed, and comes back a voter; one stopped with SIGTERM is left and kept", async (t) => {
  const names = ["g-0", "g-1", "g-2", "g-3", "g-4"];
  const cluster = await GossipCluster.make(t, names, () => ["--dead-member-timeout", `${DEAD_MEMBER_TIMEOUT_MS}ms`, "--min-voters", "3"]);
  const formingAt = performance.now();
  await cluster.start("g-0", "--bootstrap");
  const seed = cluster.address("g-0");
  await Promise.all(names.slice(1).map((name) => cluster.start(name, "--join", seed)));
  const leader = await cluster.votersAre("g-0", names);
  for (const name of names) await cluster.seesAllAlive(name, names.length);
  t.diagnostic(`5 voters, every member alive on every node: ${Math.round(performance.now() - formingAt)} ms after the first start`);
  const metrics = (await httpGet(`http://${cluster.address(leader)}/metrics`)).body;
  assert.match(metrics, /^loghouse_gossip_members\{state="alive"\} 5$/m);
  assert.match(metrics, /^loghouse_gossip_sent_bytes_total [1-9]\d*$/m);

  // The victim is neither the leader nor the seed, through which it joins again.
  const [victim, observer] = names.filter((name) => name !== leader && name !== "g-0") as [string, string];
  const killedAt = performance.now();
  await cluster.stop(victim, "SIGKILL");
  const { suspectMs, deadMs } = await watchDying(cluster, observer, victim, killedAt);
  assert.equal((await statusLiveness(cluster.address(observer)))[victim], "dead");
  assert.ok(suspectMs < SUSPECT_WITHIN_MS, `suspect only after ${suspectMs} ms`);
  assert.ok(deadMs < suspectMs + SUSPICION_MAX_MS + SLACK_MS, `dead only after ${deadMs} ms`);
  t.diagnostic(`${victim} killed: suspect on ${observer} after ${Math.round(suspectMs)} ms, dead after ${Math.round(deadMs)} ms`);

  const remaining = names.filter((name) => name !== victim);
  await cluster.votersAre(observer, remaining, 30_000);
  const removedMs = performance.now() - killedAt;
  assert.ok(removedMs >= DEAD_MEMBER_TIMEOUT_MS, `removed after ${removedMs} ms, before the dead-member timeout`);
  assert.ok(removedMs < deadMs + DEAD_MEMBER_TIMEOUT_MS + SLACK_MS, `removed only after ${removedMs} ms`);
  const removal = waitUntil("the autopilot's removal line", () => cluster.lines(leader).find((line) => line.msg === "autopilot removes a dead member" && line.member === victim));
  assert.match(String((await removal).reason), /a voter dead for \d+ ms.*quorum 3 of 5.*4 voters remain/);
  t.diagnostic(`${victim} removed from Raft ${Math.round(removedMs)} ms after the kill (dead-member timeout ${DEAD_MEMBER_TIMEOUT_MS} ms)`);

  await cluster.wipe(victim);
  const restartedAt = performance.now();
  await cluster.start(victim, "--join", seed);
  await cluster.votersAre(observer, names);
  t.diagnostic(`${victim} back with an empty data directory: a voter again ${Math.round(performance.now() - restartedAt)} ms after its start`);

  // A graceful stop is a restart to come: shown left, and kept past the dead-member timeout.
  await cluster.stop(victim, "SIGTERM");
  const leftAt = await waitUntilAsync(`${observer} to see ${victim} left`, async () => {
    const liveness = (await cluster.servers(observer)).find((server) => server.id === victim)?.liveness;
    return liveness === Server_Liveness.LEFT && performance.now();
  }, 30_000);
  assert.equal((await statusLiveness(cluster.address(observer)))[victim], "left");
  await waitUntilAsync("twice the dead-member timeout to pass with the member that left kept", async () => {
    const voters = (await cluster.servers(leader)).filter((server) => server.isVoter).length;
    assert.equal(voters, names.length, "a member that left was removed");
    return performance.now() - leftAt > 2 * DEAD_MEMBER_TIMEOUT_MS;
  }, 6 * DEAD_MEMBER_TIMEOUT_MS);
  // Restarted over its data directory with no flag, it rejoins the gossip group through the members it knows.
  await cluster.start(victim);
  await cluster.seesAllAlive(observer, names.length);
  await cluster.votersAre(victim, names);
});

test("quorum guard: 3 voters and --min-voters 3 keep a dead member; its replacement with an empty disk takes its place", async (t) => {
  const names = ["q-a", "q-b", "q-c"];
  const cluster = await GossipCluster.make(t, names, () => ["--dead-member-timeout", "2s", "--min-voters", "3"]);
  await cluster.start("q-a", "--bootstrap");
  await cluster.start("q-b", "--join", cluster.address("q-a"));
  await cluster.start("q-c", "--join", `127.0.0.1:1,${cluster.address("q-b")}`);
  const leader = await cluster.votersAre("q-a", names);
  const [victim, observer] = names.filter((name) => name !== leader) as [string, string];

  await cluster.stop(victim, "SIGKILL");
  await watchDying(cluster, leader, victim, performance.now());
  const kept = await waitUntil("the autopilot to keep the dead member", () => cluster.lines(leader).find((line) => line.msg === "autopilot keeps a dead member" && line.member === victim), 30_000);
  assert.match(String(kept.reason), /removing it would leave 2 voters, below min-voters 3/);
  assert.deepEqual((await cluster.servers(leader)).filter((server) => server.isVoter).map((server) => server.id).sort(), names);

  await cluster.wipe(victim);
  const replacement = await cluster.start(victim, "--join", cluster.address(observer));
  // Its name is a voter all along (the old Raft id): wait for the new Raft id's promotion.
  const { nodeId } = await replacement.waitForLine((line) => line.msg === "cluster member");
  await replacement.waitForLine((line) => line.msg === "member promoted to voter" && line.memberId === nodeId, 30_000);
  await cluster.votersAre(leader, names);
  await cluster.seesAllAlive(observer, names.length);
  assert.ok(!cluster.lines(leader).some((line) => line.msg === "autopilot removes a dead member"), "the autopilot removed nothing");
});

test("a second process started under a live member's name is refused, and the member stays alive in every view", async (t) => {
  const names = ["s-a", "s-b", "s-c"];
  const cluster = await GossipCluster.make(t, names, () => ["--dead-member-timeout", "2s", "--min-voters", "2"]);
  await cluster.start("s-a", "--bootstrap");
  await cluster.start("s-b", "--join", cluster.address("s-a"));
  await cluster.start("s-c", "--join", cluster.address("s-a"));
  const leader = await cluster.votersAre("s-a", names);
  const [member, observer] = names.filter((name) => name !== leader) as [string, string];
  await cluster.seesAllAlive(observer, names.length);

  const namesake = await cluster.startNamesake(member, "--join", cluster.address(leader));
  await waitUntil("the leader to refuse the namesake", () => cluster.lines(leader).find((line) => line.msg === "join refused" && line.name === member), 15_000);
  // Gossip hears the name from two processes for as long as the namesake runs (it asks again and
  // again, in case the member is a node that lost its disk and is down). Before, the others counted
  // the member dead from a few seconds in, until the namesake gave up (about 35 s here). Every view
  // is checked until the leader has refused the namesake NAMESAKE_REFUSALS times (about 8 s).
  const refusals = (): number => cluster.lines(leader).filter((line) => line.msg === "join refused" && line.name === member).length;
  await waitUntilAsync(`${NAMESAKE_REFUSALS} refused joins of the namesake, ${member} alive in every view meanwhile`, async () => {
    for (const name of [leader, observer]) {
      const liveness = (await cluster.servers(name)).find((server) => server.id === member)?.liveness;
      assert.equal(liveness, Server_Liveness.ALIVE, `${name} shows ${member} ${liveness === undefined ? "missing" : Server_Liveness[liveness]} while a namesake runs`);
    }
    return refusals() >= NAMESAKE_REFUSALS;
  }, 30_000);
  await stopNode(namesake);
  assert.deepEqual((await cluster.servers(leader)).filter((server) => server.isVoter).map((server) => server.id).sort(), names);
  assert.ok(!cluster.lines(leader).some((line) => line.msg === "autopilot removes a dead member"), "the autopilot removed nothing");
});
