// The routing client against 3 real node processes: produces go straight to the leader and reads
// to the followers (shown by pausing the members they must not need); producing with exactly-once
// retries (the idempotent producer) through a leader SIGKILL loses no acknowledged record and
// writes none twice (read back record by record); and following consumers see every record exactly once, in order, across the
// leader's death and across the deaths of the followers they read from; a paused leader (its
// connections open, nothing answered) costs a stream and a produce on it a keepalive timeout.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import { ClusterClient, type ClusterClientOptions } from "../src/client/cluster-client.ts";
import type { ConsumedRecord } from "../src/client/consume-loop.ts";
import { cleanup } from "./support/cleanup.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntil, waitUntilAsync } from "./support/wait-until.ts";

const IDS = [1, 2, 3];
const CONVERGE_MS = 30_000;

async function formCluster(t: TestContext): Promise<ProcessCluster> {
  const cluster = new ProcessCluster(await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form(IDS.length);
  return cluster;
}

function clientFor(t: TestContext, cluster: ProcessCluster, options: ClusterClientOptions = {}): ClusterClient {
  const client = new ClusterClient(IDS.map((id) => cluster.address(id)), { callTimeoutMs: 20_000, ...options });
  cleanup(t, () => client.close());
  return client;
}

/** A consumer following the log from its start, collecting what it is given, until the test ends. */
function follow(t: TestContext, client: ClusterClient): ConsumedRecord[] {
  const seen: ConsumedRecord[] = [];
  const abort = new AbortController();
  const reading = (async () => {
    for await (const records of client.consumeBatches({ from: "start", follow: true, signal: abort.signal })) seen.push(...records);
  })();
  cleanup(t, async () => {
    abort.abort();
    await reading;
  });
  return seen;
}

/** Produces `count` records named `${prefix}-i`, one at a time, into `acknowledged` (offset → value). */
async function produceRecords(client: ClusterClient, prefix: string, count: number, acknowledged: Map<bigint, string>): Promise<void> {
  for (let i = 0; i < count; i++) {
    const value = `${prefix}-${i}`;
    acknowledged.set(await client.produce(Buffer.from(value)), value);
  }
}

/** Waits until every node of `ids` has committed the last acknowledged offset, and returns it. */
async function awaitCommitted(cluster: ProcessCluster, ids: readonly number[], acknowledged: Map<bigint, string>): Promise<bigint> {
  const last = [...acknowledged.keys()].reduce((a, b) => (a > b ? a : b));
  for (const id of ids) {
    await waitUntilAsync(`node ${id} to commit ${last}`, async () => (await cluster.client(id).offsets()).endOffset > last, CONVERGE_MS);
  }
  return last;
}

const text = (record: ConsumedRecord): string => Buffer.from(record.value).toString();

/** Every committed record, read back one offset at a time from the leader. */
async function readBack(client: ClusterClient): Promise<ConsumedRecord[]> {
  const { lowestOffset, endOffset } = await client.offsets();
  const records: ConsumedRecord[] = [];
  for (let offset = lowestOffset; offset < endOffset; offset++) records.push(await client.read(offset));
  return records;
}

/** Checks a follower's view: consecutive offsets from the log's start, no repeat, the log's own records. */
function assertSeenExactlyOnce(what: string, seen: readonly ConsumedRecord[], log: readonly ConsumedRecord[]): void {
  const upTo = seen.slice(0, log.length);
  assert.deepEqual(
    upTo.map((record) => `${record.offset}:${record.type}:${text(record)}`),
    log.map((record) => `${record.offset}:${record.type}:${text(record)}`),
    `${what} saw every record once, in order`,
  );
}

test("produces go straight to the leader, reads to the followers", async (t) => {
  const cluster = await formCluster(t);
  const leader = await cluster.leader();
  const followers = IDS.filter((id) => id !== leader);
  const client = clientFor(t, cluster, { callTimeoutMs: 10_000 });
  const acknowledged = new Map<bigint, string>();
  await produceRecords(client, "first", 1, acknowledged);
  assert.equal(client.leaderAddress, cluster.address(leader));
  // With a follower paused, a produce routed through it would hang to its deadline.
  for (const follower of followers) {
    await cluster.signal(follower, "SIGSTOP");
    try {
      await produceRecords(client, `while-${follower}-paused`, 10, acknowledged);
    } finally {
      await cluster.signal(follower, "SIGCONT");
    }
  }
  await awaitCommitted(cluster, followers, acknowledged);
  // With the leader paused, reads still answer: the followers serve them.
  await cluster.signal(leader, "SIGSTOP");
  try {
    for (const [offset, value] of acknowledged) assert.equal(text(await client.read(offset)), value);
  } finally {
    await cluster.signal(leader, "SIGCONT");
  }
});

test("through a leader SIGKILL: exactly-once produces lose nothing, following consumers see each record once", async (t) => {
  const cluster = await formCluster(t);
  const producer = clientFor(t, cluster);
  const onFollowers = follow(t, clientFor(t, cluster));
  // This one reads from the leader, so its stream breaks when the leader dies and must resume.
  const onLeader = follow(t, clientFor(t, cluster, { reads: "leader" }));
  const acknowledged = new Map<bigint, string>();
  await produceRecords(producer, "before", 100, acknowledged);
  const leader = await cluster.leader();
  await cluster.signal(leader, "SIGKILL");
  const killedAt = performance.now();
  await produceRecords(producer, "after", 1, acknowledged);
  t.diagnostic(`first produce acknowledged ${Math.round(performance.now() - killedAt)} ms after the leader's SIGKILL`);
  await produceRecords(producer, "after-more", 99, acknowledged);
  assert.notEqual(await cluster.leader(), leader);

  const log = await readBack(clientFor(t, cluster, { reads: "leader" }));
  const byOffset = new Map(log.map((record) => [record.offset, text(record)]));
  const lost = [...acknowledged].filter(([offset, value]) => byOffset.get(offset) !== value);
  assert.deepEqual(lost, [], "every acknowledged record is in the log at its offset");
  const data = log.filter((record) => record.type === 0).map(text);
  const duplicates = data.length - new Set(data).size;
  t.diagnostic(`acknowledged ${acknowledged.size}, lost ${lost.length}, duplicated ${duplicates}`);
  assert.equal(duplicates, 0, "no record was written twice");
  assert.equal(data.length, acknowledged.size);

  const end = log.at(-1)!.offset;
  await waitUntil("both consumers to reach the end", () => onFollowers.at(-1)?.offset === end && onLeader.at(-1)?.offset === end, CONVERGE_MS);
  assertSeenExactlyOnce("the consumer on followers", onFollowers, log);
  assertSeenExactlyOnce("the consumer on the leader", onLeader, log);
});

test("a consumer following on the followers resumes when the member it reads from dies", async (t) => {
  const cluster = await formCluster(t);
  const leader = await cluster.leader();
  const producer = clientFor(t, cluster);
  const seen = follow(t, clientFor(t, cluster));
  const acknowledged = new Map<bigint, string>();
  // Each follower dies in turn (one of them is the one being read from), and comes back.
  for (const follower of IDS.filter((id) => id !== leader)) {
    await produceRecords(producer, `before-${follower}-dies`, 20, acknowledged);
    await cluster.signal(follower, "SIGKILL");
    await produceRecords(producer, `while-${follower}-dead`, 20, acknowledged);
    await cluster.start(follower);
  }
  await produceRecords(producer, "at-last", 20, acknowledged);
  const log = await readBack(clientFor(t, cluster, { reads: "leader" }));
  assert.equal(log.filter((record) => record.type === 0).length, acknowledged.size);
  const end = log.at(-1)!.offset;
  await waitUntil("the consumer to reach the end", () => seen.at(-1)?.offset === end, CONVERGE_MS);
  assertSeenExactlyOnce("the consumer", seen, log);
});

test("paused followers: a new following consume gives each up at the connect bound and reads from the leader", async (t) => {
  const cluster = await formCluster(t);
  const leader = await cluster.leader();
  const acknowledged = new Map<bigint, string>();
  await produceRecords(clientFor(t, cluster), "before", 20, acknowledged);
  const followers = IDS.filter((id) => id !== leader);
  const last = await awaitCommitted(cluster, followers, acknowledged);
  // A paused node's kernel still takes connections; nobody answers them. Without a connect bound the
  // consume waited on the first follower for its whole deadline (60 s here), then failed. Its client
  // keeps connections of its own (grpc-js would otherwise share the producer's, made before the
  // pause, whose loss only the keepalive finds).
  for (const follower of followers) await cluster.signal(follower, "SIGSTOP");
  try {
    const pausedAt = performance.now();
    const ownConnections = { "grpc.use_local_subchannel_pool": 1 };
    const seen = follow(t, clientFor(t, cluster, { callTimeoutMs: 60_000, connectTimeoutMs: 2_000, channelOptions: ownConnections }));
    await waitUntil("the consumer to reach the last record", () => seen.at(-1)?.offset === last, CONVERGE_MS);
    t.diagnostic(`reached the last record ${Math.round(performance.now() - pausedAt)} ms after both followers were paused`);
    assert.deepEqual(
      seen.filter((record) => record.type === 0).map((record) => `${record.offset}:${text(record)}`),
      [...acknowledged].map(([offset, value]) => `${offset}:${value}`),
    );
  } finally {
    for (const follower of followers) await cluster.signal(follower, "SIGCONT");
  }
});

test("a paused leader: the produce and the following stream on it move to the new leader", async (t) => {
  const cluster = await formCluster(t);
  const producer = clientFor(t, cluster, { produceDelivery: "at-least-once" });
  const onLeader = follow(t, clientFor(t, cluster, { reads: "leader" }));
  const acknowledged = new Map<bigint, string>();
  await produceRecords(producer, "before", 20, acknowledged);
  const leader = await cluster.leader();
  await cluster.signal(leader, "SIGSTOP");
  try {
    const pausedAt = performance.now();
    await produceRecords(producer, "while-paused", 20, acknowledged);
    t.diagnostic(`20 produces acknowledged ${Math.round(performance.now() - pausedAt)} ms after the leader was paused`);
  } finally {
    await cluster.signal(leader, "SIGCONT");
  }
  // Read back once the resumed node has stepped down (it could answer as a stale leader until then).
  assert.notEqual(await cluster.leader(), leader);
  const log = await readBack(clientFor(t, cluster, { reads: "leader" }));
  const byOffset = new Map(log.map((record) => [record.offset, text(record)]));
  assert.deepEqual([...acknowledged].filter(([offset, value]) => byOffset.get(offset) !== value), [], "nothing acknowledged is lost");
  const end = log.at(-1)!.offset;
  await waitUntil("the consumer to reach the end", () => onLeader.at(-1)?.offset === end, CONVERGE_MS);
  assertSeenExactlyOnce("the consumer on the leader", onLeader, log);
});
