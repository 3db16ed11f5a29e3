// Gossip in a secured cluster, with real processes: TLS everywhere and gossip sealed with the
// cluster's key (`loghouse certs` writes gossip.key). Three named nodes form a cluster through one
// seed and see each other alive; a SIGKILLed follower is reported dead by the other follower, so
// sealed datagrams flow both ways (a wrong key is refused datagram by datagram: membership-udp.test.ts).
// A node with TLS but no gossip key is refused with one line.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Server_Liveness } from "../src/gen/log/v1/log_pb.ts";
import { devCerts } from "./support/dev-certs.ts";
import { GossipCluster } from "./support/gossip-cluster.ts";
import { runCli } from "./support/run-cli.ts";
import { securedClientOptions, securedNodeArgs } from "./support/secured-cluster.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";

test("a secured cluster gossips sealed: it forms from one seed and sees a killed follower die", async (t) => {
  const members = ["s-0", "s-1", "s-2"];
  const certs = await devCerts(t, members);
  const cluster = await GossipCluster.make(t, members, (name) => securedNodeArgs(certs, name), await securedClientOptions(certs));
  await cluster.start("s-0", "--bootstrap");
  const seed = cluster.address("s-0");
  await Promise.all(["s-1", "s-2"].map((name) => cluster.start(name, "--join", seed)));
  const leader = await cluster.votersAre("s-0", members);
  for (const name of members) await cluster.seesAllAlive(name, members.length);
  assert.ok(cluster.lines(leader).some((line) => line.msg === "gossip started" && line.sealed === true), "gossip is sealed");

  const [victim, observer] = members.filter((name) => name !== leader) as [string, string];
  await cluster.stop(victim, "SIGKILL");
  await waitUntilAsync(`${observer} to see ${victim} dead`, async () => (await cluster.servers(observer)).find((server) => server.id === victim)?.liveness === Server_Liveness.DEAD, 30_000);
});

test("TLS without a gossip key is refused with one line", async (t) => {
  const certs = await devCerts(t, ["1"]);
  const dir = await tempDir(t);
  const args = securedNodeArgs(certs, 1).slice(0, -2);
  const refused = await runCli(["serve", "--data-dir", `${dir}/data`, "--node-id", "1", "--bootstrap", ...args]);
  assert.equal(refused.code, 1);
  assert.match(refused.stderr, /^loghouse: INVALID_CONFIG: a cluster with TLS seals its gossip too: give --gossip-key FILE/);
});
