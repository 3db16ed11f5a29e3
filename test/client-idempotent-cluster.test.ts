// The idempotent producer against 3 real node processes. A routing client (exactly-once, the
// default) producing continuously from several concurrent callers, single records and batches,
// through a leader SIGKILL: read back record by record, 0 acknowledged records lost and 0
// duplicated (every value is unique). A stock grpc-js client that sends the same (producer,
// sequence) again (a reply lost) gets the original offsets: from the same leader (also when both
// are in flight at once), from the next leader after a SIGKILL, and after the whole cluster restarted; a follower answers NOT_LEADER; a
// sequence below the remembered window is FAILED_PRECONDITION with SEQUENCE_TOO_OLD.
import type * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { RpcCode } from "../src/errors.ts";
import { cleanup } from "./support/cleanup.ts";
import { grpcTestClient, type GrpcTestClient } from "./support/grpc-log-client.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { tempDir } from "./support/temp-dir.ts";
import { nodeMetric } from "./support/node-metric.ts";
import { waitUntil, waitUntilAsync } from "./support/wait-until.ts";

const IDS = [1, 2, 3];
const WINDOW = 4;

/** Three nodes, with the producers section of their config file if given. */
async function formCluster(t: TestContext, producers?: object): Promise<ProcessCluster> {
  const root = await tempDir(t);
  const config = join(root, "config.json");
  await writeFile(config, JSON.stringify(producers === undefined ? {} : { producers }));
  const cluster = new ProcessCluster(root, undefined, ["--config", config]);
  cleanup(t, () => cluster.stopAll());
  await cluster.form(IDS.length);
  return cluster;
}

/** A stock grpc-js client of node `id`, closed when the test ends. */
function rawClient(t: TestContext, cluster: ProcessCluster, id: number): GrpcTestClient {
  const client = grpcTestClient(cluster.address(id));
  cleanup(t, () => client.close());
  return client;
}

/** The failure a call ends with (it must fail). */
function failureOf(call: Promise<unknown>): Promise<grpc.ServiceError> {
  return call.then(
    () => assert.fail("the call succeeded"),
    (error: grpc.ServiceError) => error,
  );
}

test("through a leader SIGKILL, exactly-once producers lose nothing and duplicate nothing", async (t) => {
  const cluster = await formCluster(t);
  const client = new ClusterClient(IDS.map((id) => cluster.address(id)), { callTimeoutMs: 30_000, backoffInitialMs: 20, backoffMaxMs: 500 });
  cleanup(t, () => client.close());
  const acknowledged = new Map<string, bigint>();
  let stop = false;
  // Three callers of produce() and one of produceBatch(), all on one client (one producer id), each value unique.
  const single = async (worker: number): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const value = `w${worker}-${i}`;
      acknowledged.set(value, await client.produce(Buffer.from(value)));
    }
  };
  const batches = async (): Promise<void> => {
    for (let i = 0; !stop; i++) {
      const values = Array.from({ length: 10 }, (_, j) => `b-${i}-${j}`);
      const first = await client.produceBatch(values.map((value) => Buffer.from(value)));
      values.forEach((value, j) => acknowledged.set(value, first + BigInt(j)));
    }
  };
  const workers = [single(0), single(1), single(2), batches()];
  await waitUntil("records acknowledged before the kill", () => acknowledged.size >= 300, 30_000);
  const leader = await cluster.leader();
  const atKill = acknowledged.size;
  await cluster.signal(leader, "SIGKILL");
  await waitUntil("records acknowledged after the kill", () => acknowledged.size >= atKill + 300, 60_000);
  stop = true;
  await Promise.all(workers);
  assert.notEqual(await cluster.leader(), leader);

  const reader = new ClusterClient(IDS.map((id) => cluster.address(id)), { reads: "leader" });
  cleanup(t, () => reader.close());
  const byOffset = new Map<bigint, string>();
  const data: string[] = [];
  let marks = 0;
  for await (const record of reader.consume({ from: "start" })) {
    if (record.type === 3) marks++;
    if (record.type !== 0) continue;
    const value = Buffer.from(record.value).toString();
    byOffset.set(record.offset, value);
    data.push(value);
  }
  const lost = [...acknowledged].filter(([value, offset]) => byOffset.get(offset) !== value);
  const duplicated = data.length - new Set(data).size;
  t.diagnostic(`acknowledged ${acknowledged.size} (${atKill} before the kill), lost ${lost.length}, duplicated ${duplicated}, batch marks ${marks}`);
  assert.deepEqual(lost, [], "every acknowledged record is in the log at its offset");
  assert.equal(duplicated, 0, "no record was appended twice");
  assert.equal(data.length, acknowledged.size, "every record in the log was acknowledged");
});

test("a batch sent again gets its first offsets, from a new leader and after a whole-cluster restart; too old is SEQUENCE_TOO_OLD; another's records under its number SEQUENCE_REUSED", async (t) => {
  const cluster = await formCluster(t, { sequencesPerProducerMax: WINDOW });
  const producerId = randomBytes(16);
  const request = { values: ["one", "two", "three"].map((value) => Buffer.from(value)), producer: { producerId, sequence: 0n } };
  const leader = await cluster.leader();
  const first = await rawClient(t, cluster, leader).unary("produceBatch", request);
  assert.deepEqual(await rawClient(t, cluster, leader).unary("produceBatch", request), first, "the same leader answers the original offsets");
  // Sent twice at once (a retry while the original is in flight): one append, the same answer.
  const twice = { values: [Buffer.from("c1")], producer: { producerId, sequence: 1n } };
  const [a, b] = await Promise.all([rawClient(t, cluster, leader).unary("produceBatch", twice), rawClient(t, cluster, leader).unary("produceBatch", twice)]);
  assert.deepEqual(a, b);
  // Another client sends first under a producer's id and number: the producer's own batch is
  // refused (SEQUENCE_REUSED), not answered with the offsets of records it never sent.
  const victim = { producerId: randomBytes(16), sequence: 0n };
  await rawClient(t, cluster, leader).unary("produceBatch", { values: [Buffer.from("not-mine")], producer: victim });
  const reused = await failureOf(rawClient(t, cluster, leader).unary("produceBatch", { values: [Buffer.from("mine")], producer: victim }));
  assert.equal(reused.code, RpcCode.failedPrecondition);
  assert.equal(reused.metadata.get("loghouse-error-code")[0], "SEQUENCE_REUSED");

  const follower = IDS.find((id) => id !== leader)!;
  const refused = await failureOf(rawClient(t, cluster, follower).unary("produceBatch", request));
  assert.equal(refused.code, RpcCode.unavailable);
  assert.equal(refused.metadata.get("loghouse-error-code")[0], "NOT_LEADER", "a follower sends an idempotent batch to the leader");

  await cluster.signal(leader, "SIGKILL");
  const next = await cluster.leader();
  assert.deepEqual(await rawClient(t, cluster, next).unary("produceBatch", request), first, "the next leader answers the original offsets");
  await cluster.start(leader);

  for (const id of IDS) await cluster.signal(id, "SIGKILL");
  for (const id of IDS) await cluster.start(id);
  const restarted = await cluster.leader();
  assert.deepEqual(await rawClient(t, cluster, restarted).unary("produceBatch", request), first, "remembered across a restart of every node");

  const raw = rawClient(t, cluster, restarted);
  for (let sequence = 2n; sequence <= BigInt(WINDOW + 1); sequence++) await raw.unary("produceBatch", { values: [Buffer.from(`s${sequence}`)], producer: { producerId, sequence } });
  const tooOld = await failureOf(raw.unary("produceBatch", request));
  assert.equal(tooOld.code, RpcCode.failedPrecondition);
  assert.equal(tooOld.metadata.get("loghouse-error-code")[0], "SEQUENCE_TOO_OLD");
  const { lowestOffset } = await raw.unary("getOffsets", {});
  const { records } = await raw.unary("consumeBatch", { offset: lowestOffset, maxRecords: 1_000 });
  const data = (records as Array<{ type: number; value: Uint8Array }>).filter((record) => record.type === 0).map((record) => Buffer.from(record.value).toString());
  assert.deepEqual(data, ["one", "two", "three", "c1", "not-mine", "s2", "s3", "s4", "s5"]);
});

test("a batch refused while a leadership transfer is under way is written when sent again, at once", async (t) => {
  const cluster = await formCluster(t);
  const leader = await cluster.leader();
  const target = IDS.find((id) => id !== leader)!;
  // A transfer to a voter that is down stays under way until the leader gives it up.
  await cluster.signal(target, "SIGKILL");
  const raw = rawClient(t, cluster, leader);
  const producerId = randomBytes(16);
  const batch = (sequence: bigint) => ({ values: [Buffer.from(`s${sequence}`)], producer: { producerId, sequence } });
  const transfer = cluster.client(leader).transferLeadership(String(target)).then(() => "moved", (error: Error) => error.message);
  let refused: bigint | undefined;
  for (let sequence = 0n; refused === undefined; sequence++) {
    const failure = await raw.unary("produceBatch", batch(sequence), { deadline: Date.now() + 5_000 }).then(() => undefined, (error: grpc.ServiceError) => error);
    if (failure === undefined) continue; // written before the transfer began
    assert.match(failure.details, /transfer-in-progress/, failure.message);
    refused = sequence;
  }
  assert.doesNotMatch(await transfer, /^moved$/, "leadership cannot move to a voter that is down");
  // Before, the refused proposal stayed "in flight" here, and every retry waited for its outcome until its deadline.
  const started = Date.now();
  const written = await raw.unary("produceBatch", batch(refused), { deadline: Date.now() + 10_000 });
  assert.ok(Date.now() - started < 5_000, `the retry took ${Date.now() - started} ms`);
  assert.deepEqual(await raw.unary("produceBatch", batch(refused), { deadline: Date.now() + 5_000 }), written, "and once written, it is answered with its offsets");
});

test("an exactly-once produce costs each node one write and fdatasync, as a plain one does", async (t) => {
  // Its records follow a batch mark, a run of its own in every node's log: each node used to write
  // and sync the mark alone, then the records (two fdatasyncs in sequence per call, on every node).
  const cluster = await formCluster(t);
  const leader = await cluster.leader();
  const client = new ClusterClient(IDS.map((id) => cluster.address(id)));
  cleanup(t, () => client.close());
  const metric = (name: string): Promise<number[]> => Promise.all(IDS.map((id) => nodeMetric(cluster.address(id), name)));
  /** Waits until every node's log holds what the leader's does (a call is answered once a majority's does). */
  const everyNodeCaughtUp = async (): Promise<void> => {
    const end = await nodeMetric(cluster.address(leader), "loghouse_log_next_offset");
    await waitUntilAsync(`every node's log reaches offset ${end}`, async () => (await metric("loghouse_log_next_offset")).every((next) => next >= end) || undefined, 10_000);
  };
  await client.produce(Buffer.from("first"));
  await everyNodeCaughtUp();
  const before = await metric("loghouse_fsync_duration_seconds_count");
  const calls = 20;
  for (let i = 0; i < calls; i++) await client.produce(Buffer.from(`record ${i}`));
  await everyNodeCaughtUp();
  const after = await metric("loghouse_fsync_duration_seconds_count");
  for (const [i, id] of IDS.entries()) {
    const perCall = (after[i]! - before[i]!) / calls;
    assert.ok(perCall >= 0.5 && perCall <= 1.1, `node ${id}${id === leader ? " (leader)" : ""} synced ${perCall.toFixed(2)} times per call`);
  }
});
