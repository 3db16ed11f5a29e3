// A cluster's id, over real processes: drawn at bootstrap, taken by each joining node, answered by
// GetServers and `loghouse status`. Then the mistake it exists for: a follower loses its data
// directory and is started again with --bootstrap at its old address, a second cluster where clients
// expect a member. (Before ids, a routing client given that address first wrote its records into the
// second cluster and had them acknowledged; none of them was in the first.) Now:
//   - a routing client whose addresses answer for both refuses to pick one (ClusterMismatchError),
//     or keeps to the first cluster, which lists every address; so does the CLI;
//   - named by id, the cluster is found through the same addresses, and gets every record;
//   - the second cluster's node refuses calls that name the first, over gRPC and Connect, and an
//     admin request from a member of the first; it holds none of the records;
//   - gossip tells the first cluster that the name is another cluster's now: it counts the old Raft
//     id dead, and the autopilot (allowed here by --min-voters 2) removes it. Before, a name alive in
//     gossip under another Raft id was left alone, and the cluster ran one voter short for good.
// A member restarted with --join naming another cluster's node stays in its own cluster (its data
// directory decides it) and says so at once, in its own words. And a node alone, which knows no id,
// still refuses a header that is not one.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { sendAdminRequest } from "../src/cluster/admin-protocol.ts";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { LoghouseClient } from "../src/client/client.ts";
import { ClusterMismatchError, InvalidArgumentError } from "../src/errors.ts";
import { CLUSTER_ID_HEADER } from "../src/wire/cluster-id.ts";
import { cleanup } from "./support/cleanup.ts";
import { freePort } from "./support/free-port.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { startNode, stopNode } from "./support/node-process.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { runCli } from "./support/run-cli.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";

async function stateOf(cluster: ProcessCluster, id: number): Promise<{ nodeId: number; clusterId?: string }> {
  return JSON.parse(await readFile(join(cluster.dataDir(id), "raft-state.json"), "utf8")) as { nodeId: number; clusterId?: string };
}

test("a member bootstrapped again at its old address is a second cluster that no client mistakes for the first", { timeout: 120_000 }, async (t) => {
  const root = await tempDir(t);
  // Full state exchanges every second, not every 30 s: the second cluster's node hears the first's
  // record of its name in one, and answers it with its own (a higher incarnation, its new tag).
  const config = join(root, "config.json");
  await writeFile(config, JSON.stringify({ gossip: { pushPullIntervalMs: 1_000 } }));
  const cluster = new ProcessCluster(root, undefined, ["--config", config, "--min-voters", "2", "--dead-member-timeout", "1s"]);
  cleanup(t, () => cluster.stopAll());
  await cluster.form(3);
  const first = (await stateOf(cluster, 1)).clusterId;
  assert.match(first ?? "", /^[0-9a-f]{16}$/, "the bootstrap drew an id");
  for (const id of [2, 3]) assert.equal((await stateOf(cluster, id)).clusterId, first, `node ${id} took the id when it joined`);
  for (const id of [1, 2, 3]) assert.equal((await cluster.client(id).getServers()).clusterId, first, `GetServers of node ${id}`);
  const status = await runCli(["status", "--server", cluster.address(2)]);
  assert.equal(status.code, 0, status.stderr);
  assert.equal((JSON.parse(status.stdout) as { clusterId: string }).clusterId, first);

  const leader = await cluster.leader();
  const lost = [1, 2, 3].find((id) => id !== leader)!;
  const lostRaftId = (await stateOf(cluster, lost)).nodeId;
  await cluster.signal(lost, "SIGKILL");
  await cluster.wipe(lost);
  await cluster.start(lost, { bootstrap: true });
  const second = (await stateOf(cluster, lost)).clusterId!;
  assert.match(second, /^[0-9a-f]{16}$/);
  assert.notEqual(second, first, "a second bootstrap draws a second id");
  // Its end once its leader's first entry (the no-op of its term) is committed: read before, the
  // no-op could land after it and look like a record the second cluster took.
  const rogueEnd = await waitUntilAsync("the second cluster's leader to commit its first entry", async () => {
    const { lowestOffset, endOffset } = await cluster.client(lost).offsets();
    return endOffset > lowestOffset ? endOffset : undefined;
  });

  // The second cluster's address first, as a client configured with every member's address may have
  // it. Which answers first decides only how the client stays safe (client-cluster-choice.test.ts):
  // the second cluster's node first, it refuses to pick one; the first cluster first, it lists every
  // address, and the client keeps to it. Either way nothing lands in the second cluster.
  const addresses = [lost, ...[1, 2, 3].filter((id) => id !== lost)].map((id) => cluster.address(id));
  const unnamed = new ClusterClient(addresses, { callTimeoutMs: 10_000 });
  cleanup(t, () => unnamed.close());
  const landed: string[] = [];
  try {
    await unnamed.produceBatch([Buffer.from("unnamed")]);
    landed.push("unnamed");
  } catch (error) {
    assert.ok(error instanceof ClusterMismatchError, String(error));
    assert.match(error.message, new RegExp(`2 clusters .*${second} at ${cluster.address(lost)}`));
  }
  const cli = await runCli(["produce", "--server", addresses.join(",")], { input: "cli\n" });
  if (cli.code === 0) landed.push("cli");
  else assert.match(cli.stderr, /CLUSTER_MISMATCH: the addresses given answer for 2 clusters/);
  const badFlag = await runCli(["produce", "--server", addresses.join(","), "--cluster-id", "not-an-id"], { input: "x\n" });
  assert.equal(badFlag.code, 2, badFlag.stderr);
  assert.match(badFlag.stderr, /--cluster-id .* must be 16 hex digits/);

  // Named, the first cluster is found through the same addresses and gets every record.
  const named = new ClusterClient(addresses, { clusterId: first!, callTimeoutMs: 10_000 });
  cleanup(t, () => named.close());
  const offsets: bigint[] = [];
  for (let i = 0; i < 3; i++) offsets.push(await named.produceBatch([Buffer.from(`named-${i}`)]));
  const viaCli = await runCli(["produce", "--server", addresses.join(","), "--cluster-id", first!], { input: "cli-named\n" });
  assert.equal(viaCli.code, 0, viaCli.stderr);
  const held = await cluster.records(leader);
  for (const [i, offset] of offsets.entries()) {
    assert.equal(held.find((record) => record.offset === Number(offset))?.value, Buffer.from(`named-${i}`).toString("hex"));
  }
  for (const value of ["cli-named", ...landed]) assert.ok(held.some((record) => record.value === Buffer.from(value).toString("hex")), `${value} is in the first cluster`);

  // The second cluster's node refuses what names the first, before doing anything.
  const pinned = new LoghouseClient(cluster.address(lost), { callHeaders: () => ({ [CLUSTER_ID_HEADER]: first! }) });
  cleanup(t, () => pinned.close());
  await assert.rejects(pinned.produce(Buffer.from("refused")), (error: unknown) => error instanceof ClusterMismatchError && error.message.includes(`cluster ${second}, not to cluster ${first}`));
  const connect = await fetch(`http://${cluster.address(lost)}/log.v1.Log/GetOffsets`, {
    method: "POST",
    headers: { "content-type": "application/json", [CLUSTER_ID_HEADER]: first! },
    body: "{}",
  });
  const refusal = (await connect.json()) as { code: string; message: string };
  assert.equal(refusal.code, "failed_precondition", JSON.stringify(refusal));
  assert.match(refusal.message, /belongs to cluster/);
  // A browser may send the header too: the preflight allows it.
  const preflight = await fetch(`http://${cluster.address(lost)}/log.v1.Log/GetOffsets`, {
    method: "OPTIONS",
    headers: { origin: "http://example.test", "access-control-request-method": "POST", "access-control-request-headers": CLUSTER_ID_HEADER },
  });
  assert.match(preflight.headers.get("access-control-allow-headers") ?? "", new RegExp(CLUSTER_ID_HEADER, "i"));
  const answer = await sendAdminRequest(cluster.address(lost), { op: "member", nodeId: lostRaftId, clusterId: first! });
  assert.equal(answer.ok, false);
  assert.match(answer.ok ? "" : answer.error, new RegExp(`belongs to cluster ${second}, not to cluster ${first}`));
  assert.equal((await cluster.client(lost).offsets()).endOffset, rogueEnd, "the second cluster took no record");

  const remaining = [1, 2, 3].filter((id) => id !== lost).map(String).sort();
  await waitUntilAsync("the first cluster to remove the name that is another cluster's now", async () => {
    const { servers } = await cluster.client(leader).getServers();
    return servers.map((server) => server.id).sort().join() === remaining.join();
  }, 30_000);
});

test("a member restarted with --join naming another cluster's node stays in its own and warns at once", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  const [portA, portB] = [await freePort(), await freePort()];
  const member = (name: string, port: number, extra: readonly string[]) =>
    startNode(["--data-dir", join(root, name), "--listen", `127.0.0.1:${port}`, "--node-id", name, ...extra]);
  const other = await member("b1", portB, ["--bootstrap"]);
  cleanup(t, () => stopNode(other));
  const first = await member("a1", portA, ["--bootstrap"]);
  const asked = new LoghouseClient(first.address);
  const clusterA = (await asked.getServers()).clusterId;
  asked.close();
  await stopNode(first);

  const restarted = await member("a1", portA, ["--join", other.address]);
  cleanup(t, () => stopNode(restarted));
  const started = Date.now();
  const passedOver = await restarted.waitForLine((line) => line.msg === "--join names a node of another cluster: passed over", 10_000);
  assert.equal(passedOver.address, other.address);
  assert.match(String(passedOver.advice), new RegExp(`member a1 of cluster ${clusterA}, which it stays in`));
  // No other member to ask: the join ends at once (before: 50 attempts, 47 s, then a refusal in the other node's words).
  const failed = await restarted.waitForLine((line) => line.msg === "join failed", 10_000);
  assert.ok(Date.now() - started < 10_000);
  assert.match(JSON.stringify(failed), new RegExp(`${other.address.replaceAll(".", "\\.")} is a node of another cluster`));
  const client = new LoghouseClient(restarted.address);
  cleanup(t, () => client.close());
  assert.equal((await client.getServers()).clusterId, clusterA);
  await client.produce(Buffer.from("still in its own cluster"));
});

test("a node alone takes a call naming any well-formed cluster id, and refuses a malformed one over gRPC and Connect", async (t) => {
  const server = await startLogServer(t);
  const address = addressOf(server);
  const named = (value: string) => {
    const client = new LoghouseClient(address, { callHeaders: () => ({ [CLUSTER_ID_HEADER]: value }) });
    cleanup(t, () => client.close());
    return client;
  };
  assert.equal(await named("0123456789abcdef").produce(Buffer.from("named")), 0n);
  for (const malformed of ["zz", "0123456789ABCDEF", "0123456789abcdef0"]) {
    await assert.rejects(named(malformed).produce(Buffer.from("refused")), (error: unknown) => error instanceof InvalidArgumentError && /must be 16 hex digits/.test(error.message), malformed);
    const connect = await fetch(`http://${address}/log.v1.Log/GetOffsets`, {
      method: "POST",
      headers: { "content-type": "application/json", [CLUSTER_ID_HEADER]: malformed },
      body: "{}",
    });
    const refusal = (await connect.json()) as { code: string; message: string };
    assert.equal(refusal.code, "invalid_argument", JSON.stringify(refusal));
  }
  assert.equal((await named("0123456789abcdef").offsets()).endOffset, 1n, "nothing refused was stored");
});
