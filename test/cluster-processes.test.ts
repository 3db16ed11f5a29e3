// A 3-node cluster of real `loghouse serve` processes on loopback, driven through the public gRPC
// client: formation by bootstrap and joins, writes through every node, the leader SIGKILLed during
// ingestion, and a follower that comes back with an empty data directory. Each runs twice: in
// plaintext and secured (TLS, mutual TLS between peers, the sample ACL, clients holding root's certificate).
// A record over the limit in a batch is refused before any node proposes it; a member restarted at
// another address warns that its peers do not dial it there.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { BIN, startNode, stopNode } from "./support/node-process.ts";
import { freePort } from "./support/free-port.ts";
import { promisify } from "node:util";
import { RecordTooLargeError } from "../src/errors.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { securedProcessCluster } from "./support/secured-cluster.ts";
import { assertReplicasIntact } from "./support/replica-check.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";
import { cleanup } from "./support/cleanup.ts";

/** Produces unique values through `via` until stopped; records what was acknowledged. */
function ingest(cluster: ProcessCluster, via: () => number, acknowledged: Map<number, string>): { stop: () => Promise<void> } {
  let running = true;
  const loop = (async () => {
    while (running) {
      const values = Array.from({ length: 10 }, () => randomBytes(16));
      try {
        const first = Number(await cluster.client(via()).produceBatch(values));
        values.forEach((value, i) => acknowledged.set(first + i, value.toString("hex")));
      } catch {
        // Not acknowledged (no leader, node down): its outcome does not count.
        await delay(10);
      }
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Waits until every running node holds the same records, reaching at least every acknowledged offset. */
async function converged(cluster: ProcessCluster, ids: number[], acknowledged: Map<number, string>): Promise<void> {
  assertReplicasIntact(acknowledged, await cluster.converged(ids, acknowledged, 30_000));
}

interface Variant {
  readonly name: string;
  /** A cluster (not started) and the arguments the command line needs to reach it. */
  make(t: import("node:test").TestContext): Promise<{ cluster: ProcessCluster; cliArgs: string[] }>;
}

const variants: readonly Variant[] = [
  { name: "plaintext", make: async (t) => ({ cluster: new ProcessCluster(await tempDir(t)), cliArgs: [] }) },
  {
    name: "TLS",
    make: async (t) => {
      const { cluster, certs } = await securedProcessCluster(t, await tempDir(t));
      return { cluster, cliArgs: ["--tls-ca", certs.path("ca.pem"), "--tls-cert", certs.path("root-client.pem"), "--tls-key", certs.path("root-client-key.pem")] };
    },
  },
];

for (const variant of variants) describe(`cluster of processes (${variant.name})`, { timeout: 180_000 }, () => {
  test("forms by bootstrap and joins, takes writes through every node, and every node holds them in one order", async (t) => {
    const { cluster } = await variant.make(t);
    cleanup(t, () => cluster.stopAll());
    await cluster.form();
    const acknowledged = new Map<number, string>();
    // One batch is one proposal, however large the server lets it be: its records stay consecutive.
    for (const [id, count] of [[1, 50], [2, 20_000], [3, 50], [3, 50], [2, 50], [1, 50]] as const) {
      const values = Array.from({ length: count }, () => randomBytes(20));
      const first = Number(await cluster.client(id).produceBatch(values));
      values.forEach((value, i) => acknowledged.set(first + i, value.toString("hex")));
    }
    await converged(cluster, [1, 2, 3], acknowledged);
    // Raft's own entries are records as well: offsets stay dense from 1, and `type` tells them apart.
    const held = await cluster.records(3);
    assert.equal(held[0]!.offset, 1, "a cluster's log starts at offset 1");
    assert.deepEqual(held.map((r) => r.offset), held.map((_, i) => i + 1), "every offset is present");
    assert.deepEqual([...new Set(held.map((r) => r.type))].sort(), [0, 1, 2], "data (0), leader no-ops (1), membership changes (2)");
    const servers = await cluster.client(2).servers();
    assert.deepEqual(servers.map((s) => s.id).sort(), ["1", "2", "3"]);
    assert.equal(servers.filter((s) => s.isLeader).length, 1);
    // The joined nodes vote: without the bootstrap node, they still elect a leader and commit.
    await cluster.signal(1, "SIGKILL");
    const leader = await cluster.leader();
    assert.ok(leader === 2 || leader === 3);
    const after = [randomBytes(8)];
    const offset = Number(await cluster.client(leader === 2 ? 3 : 2).produceBatch(after));
    acknowledged.set(offset, after[0]!.toString("hex"));
    await converged(cluster, [2, 3], acknowledged);
  });

  test("the leader SIGKILLed during ingestion: a new leader takes over, and after its return no acknowledged record is lost, moved or doubled", async (t) => {
    const { cluster } = await variant.make(t);
    cleanup(t, () => cluster.stopAll());
    await cluster.form();
    const acknowledged = new Map<number, string>();
    let next = 0;
    const writer = ingest(cluster, () => [1, 2, 3].filter((id) => cluster.isRunning(id))[next++ % 3] ?? 1, acknowledged);
    cleanup(t, () => writer.stop());
    await waitUntilAsync("some acknowledged writes", async () => acknowledged.size >= 200, 30_000);
    const oldLeader = await cluster.leader();
    await cluster.signal(oldLeader, "SIGKILL");
    const before = acknowledged.size;
    const newLeader = await cluster.leader();
    assert.notEqual(newLeader, oldLeader);
    await waitUntilAsync("writes under the new leader", async () => acknowledged.size >= before + 200, 30_000);
    await cluster.start(oldLeader);
    await waitUntilAsync("writes with all three back", async () => acknowledged.size >= before + 400, 30_000);
    await writer.stop();
    await converged(cluster, [1, 2, 3], acknowledged);
  });

  test("a follower that lost its data directory catches up from the leader", async (t) => {
    const { cluster, cliArgs } = await variant.make(t);
    cleanup(t, () => cluster.stopAll());
    await cluster.form();
    const acknowledged = new Map<number, string>();
    const values = Array.from({ length: 500 }, () => randomBytes(32));
    const first = Number(await cluster.client(1).produceBatch(values));
    values.forEach((value, i) => acknowledged.set(first + i, value.toString("hex")));
    const leader = await cluster.leader();
    const follower = [1, 2, 3].find((id) => id !== leader)!;
    await cluster.signal(follower, "SIGKILL");
    await cluster.wipe(follower);
    await cluster.start(follower, { joinVia: leader });
    await converged(cluster, [1, 2, 3], acknowledged);
    // And leaves, asked through the command line.
    const { stdout } = await promisify(execFile)(BIN, ["leave", "--server", cluster.address(leader), "--node-id", String(follower), ...cliArgs]);
    assert.deepEqual(JSON.parse(stdout), { left: String(follower) });
    await waitUntilAsync("the member to be gone", async () => (await cluster.client(leader).servers()).length === 2, 20_000);
  });
});

test("a ProduceBatch holding a record over recordBytesMax is refused RECORD_TOO_LARGE, at the leader and through a follower, and every node carries on", { timeout: 120_000 }, async (t) => {
  const cluster = new ProcessCluster(await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form(3);
  const leader = await cluster.leader();
  const follower = [1, 2, 3].find((id) => id !== leader)!;
  // A message may be 8 MiB, a record 1 MiB (the defaults): the record is what must be refused.
  const oversized = [Buffer.from("small"), Buffer.alloc(1024 * 1024 + 1)];
  for (const via of [leader, follower]) await assert.rejects(cluster.client(via).produceBatch(oversized), RecordTooLargeError);
  const acknowledged = new Map<number, string>();
  for (const via of [leader, follower]) {
    const value = randomBytes(16);
    acknowledged.set(Number(await cluster.client(via).produce(value)), value.toString("hex"));
  }
  await converged(cluster, [1, 2, 3], acknowledged);

  // A member restarted at another address is not dialed there by its peers: it says so at start.
  await cluster.signal(follower, "SIGTERM");
  const moved = await startNode(["--data-dir", cluster.dataDir(follower), "--listen", `127.0.0.1:${await freePort()}`, "--node-id", String(follower)]);
  cleanup(t, () => stopNode(moved));
  const warning = await moved.waitForLine((line) => line.level === "warn" && /address changed since it joined/.test(String(line.msg)));
  assert.equal(warning.joinedAt, cluster.address(follower));
});
