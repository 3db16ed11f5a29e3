// A node removed from its cluster stops serving as a member, with real node processes: asked to
// leave through another member while it runs (a follow stream on it ends), or removed while it was
// down and told by the leader once it speaks again. Health turns NOT_SERVING and every read and
// write answers FAILED_PRECONDITION instead of its stale view and data.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { promisify } from "node:util";
import { LoghouseClient } from "../src/client/client.ts";
import { NodeRemovedError, RpcCode } from "../src/errors.ts";
import { Server_Liveness } from "../src/gen/log/v1/log_pb.ts";
import { BIN, startNode, stopNode } from "./support/node-process.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { runCli } from "./support/run-cli.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";
import { cleanup } from "./support/cleanup.ts";

const values = (count: number): Buffer[] => Array.from({ length: count }, (_, i) => Buffer.from(`value-${i}`));

async function leave(contact: string, nodeId: number): Promise<void> {
  const { stdout } = await promisify(execFile)(BIN, ["leave", "--server", contact, "--node-id", String(nodeId)]);
  assert.deepEqual(JSON.parse(stdout), { left: String(nodeId) });
}

async function failsWithPrecondition(what: string, call: () => Promise<unknown>): Promise<void> {
  await assert.rejects(call, (error: unknown) => {
    assert.ok(error instanceof NodeRemovedError, `${what}: ${String(error)}`);
    assert.equal(error.rpcCode, RpcCode.failedPrecondition, `${what}: ${error.message}`);
    return true;
  });
}

/** What a removed node answers: NOT_SERVING, and FAILED_PRECONDITION for writes, reads and the member list. */
async function servesNothing(client: LoghouseClient): Promise<void> {
  await waitUntilAsync("the removed node to report NOT_SERVING", async () => (await client.healthStatus()) === "NOT_SERVING", 15_000);
  await failsWithPrecondition("produce", () => client.produceBatch(values(1)));
  await failsWithPrecondition("read", () => client.readBatch(1));
  await failsWithPrecondition("servers", () => client.servers());
}

describe("a removed node", { timeout: 120_000 }, () => {
  test("asked to leave through another member while running: stops serving, and its follow stream ends", async (t) => {
    const cluster = new ProcessCluster(await tempDir(t));
    cleanup(t, () => cluster.stopAll());
    await cluster.form();
    const leader = await cluster.leader();
    const [removed, other] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    await cluster.client(leader).produceBatch(values(20));
    // A tail reader on the node to be removed, caught up and waiting for more (given up after a
    // bound, which ends it without an error: a stream that stalls fails the test in bounded time).
    let held = 0;
    const follow = (async () => {
      const stream = cluster.client(removed).consume({ from: "start", follow: true, signal: AbortSignal.timeout(30_000) });
      for await (const record of stream) if (record.type === 0) held++;
    })();
    follow.catch(() => undefined);
    await waitUntilAsync("the follower's stream to catch up", async () => held === 20, 10_000);

    await leave(cluster.address(other), removed);
    await failsWithPrecondition("the follow stream", () => follow);
    await servesNothing(cluster.client(removed));
    // The others carry on without it.
    await cluster.client(other).produceBatch(values(1));
    assert.deepEqual((await cluster.client(other).servers()).map((s) => s.id).sort(), [leader, other].map(String).sort());
  });

  test("removed while down: told by the leader once it speaks again", async (t) => {
    const root = await tempDir(t);
    const cluster = new ProcessCluster(root);
    cleanup(t, () => cluster.stopAll());
    await cluster.form();
    const leader = await cluster.leader();
    const [removed, other] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
    await cluster.client(leader).produceBatch(values(20));
    await cluster.signal(removed, "SIGKILL");
    await leave(cluster.address(other), removed);

    const node = await startNode(["--data-dir", join(root, `node-${removed}`), "--listen", cluster.address(removed), "--node-id", String(removed)]);
    cleanup(t, () => stopNode(node));
    const client = new LoghouseClient(node.address);
    cleanup(t, () => client.close());
    await node.waitForLine((line) => line.msg === "removed from the cluster: no longer serving", 15_000);
    await servesNothing(client);
    // Answers made of offsets alone say so too (before: its stale end, and OFFSET_OUT_OF_RANGE past it).
    await failsWithPrecondition("offsets", () => client.offsets());
    await failsWithPrecondition("a read past its end", () => client.readBatch(1_000));
    // The command line, pointed at it alone, learns no other member from it: it says so at once
    // (before: it asked the removed node again until its 30 s deadline).
    const started = Date.now();
    const consumed = await runCli(["consume", "--server", node.address, "--from", "0", "--count", "1"]);
    assert.equal(consumed.code, 1, consumed.stdout);
    assert.match(consumed.stderr, /NODE_REMOVED/);
    assert.ok(Date.now() - started < 10_000, `consume took ${Date.now() - started} ms to fail`);
  });
});

test("leave is refused when the voters left could not reach a quorum, or when it names the leader, with a clear INVALID_ARGUMENT", { timeout: 120_000 }, async (t) => {
  const cluster = new ProcessCluster(await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form();
  const leader = await cluster.leader();
  const [down, asked] = [1, 2, 3].filter((id) => id !== leader) as [number, number];
  const run = async (nodeId: number) => promisify(execFile)(BIN, ["leave", "--server", cluster.address(leader), "--node-id", String(nodeId)]).then(
    () => ({ code: 0, stderr: "" }),
    (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
  );
  // Before: "transfer leadership before removing the leader" came back as CLUSTER_UNAVAILABLE, a "retry later".
  const ofLeader = await run(leader);
  assert.equal(ofLeader.code, 1, ofLeader.stderr);
  assert.match(ofLeader.stderr, /^loghouse: INVALID_ARGUMENT: transfer leadership before removing the leader/);

  await cluster.signal(down, "SIGTERM");
  await waitUntilAsync(`the leader to see node ${down} down`, async () => {
    const servers = await cluster.client(leader).servers();
    return servers.find((server) => server.id === String(down))?.liveness !== Server_Liveness.ALIVE;
  }, 20_000);
  // Before: {"left":N}, exit 0, and the two voters left (one of them down) could elect no leader.
  const refused = await run(asked);
  assert.equal(refused.code, 1, refused.stderr);
  assert.match(refused.stderr, new RegExp(`^loghouse: INVALID_ARGUMENT: removing node ${asked} would leave 1 of its 2 voters alive, fewer than their quorum of 2`));
  assert.equal((await cluster.client(leader).servers()).filter((server) => server.liveness === Server_Liveness.ALIVE).length, 2, "the live voters are still members");
  await cluster.client(leader).produce(Buffer.from("still writable"));
});
