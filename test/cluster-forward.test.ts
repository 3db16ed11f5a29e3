// Forwarding inside the cluster layer, with real node processes and a stock grpc-js client pointed
// at a follower: unary, batch and stream produces are forwarded to the leader over the peer
// connection and read back from the leader, and an idempotent one is answered NOT_LEADER with the
// leader's address; with the leader paused (SIGSTOP), a produce whose
// deadline passes fails with DEADLINE_EXCEEDED at the deadline, and one the caller cancels is
// given up: in both cases the follower's cancel reaches the leader ahead of its resumption, and the
// leader (SIGCONT) does not append the records, while a forward sent behind them with a deadline
// still to run is appended (so the pause did not simply lose them). The pause is kept well below an
// election timeout and the test checks that the same leader served before and after.
import assert from "node:assert/strict";
import { test, type TestContext } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { ProcessCluster } from "./support/process-cluster.ts";
import { nodeMetric } from "./support/node-metric.ts";
import { grpcTestClient, take, type GrpcTestClient } from "./support/grpc-log-client.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";
import { cleanup } from "./support/cleanup.ts";

const IDS = [1, 2, 3];
/** The short deadline of the produce sent while the leader is paused (the election timeout is 500 ms at least). */
const SHORT_DEADLINE_MS = 250;
/** How late after its deadline the failure may come on a loaded machine. */
const DEADLINE_SLACK_MS = 200;

async function formed(t: TestContext): Promise<{ cluster: ProcessCluster; leader: number; follower: number; client: GrpcTestClient }> {
  const cluster = new ProcessCluster(await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form(IDS.length);
  const leader = await cluster.leader();
  const follower = IDS.find((id) => id !== leader)!;
  const client = grpcTestClient(cluster.address(follower));
  cleanup(t, () => client.close());
  return { cluster, leader, follower, client };
}

/** The values the leader holds, as text by offset. */
async function valuesOn(cluster: ProcessCluster, id: number): Promise<Map<number, string>> {
  const records = await cluster.records(id);
  return new Map(records.map((record) => [record.offset, Buffer.from(record.value, "hex").toString()]));
}

const values = (...texts: string[]): Buffer[] => texts.map((text) => Buffer.from(text));

function waitForwards(cluster: ProcessCluster, follower: number, count: number): Promise<true> {
  return waitUntilAsync(`${count} forwards waiting on node ${follower}`, async () => (await nodeMetric(cluster.address(follower), "loghouse_forwards_waiting")) === count || undefined, 10_000);
}

test("a follower forwards unary, batch and stream produces to the leader, which holds them; an idempotent one is sent to the leader's address", { timeout: 120_000 }, async (t) => {
  const { cluster, leader, client } = await formed(t);
  const expected = new Map<number, string>();
  const unary = await client.unary("produce", { record: { value: Buffer.from("unary") } }, { deadline: Date.now() + 10_000 });
  expected.set(Number(unary.offset), "unary");
  const batch = await client.unary("produceBatch", { values: values("b0", "b1", "b2") });
  assert.equal(batch.count, 3);
  for (let i = 0; i < 3; i++) expected.set(Number(batch.firstOffset) + i, `b${i}`);
  const stream = client.bidiStream("produceStream");
  const answers = take(stream, 5);
  for (let i = 0; i < 5; i++) stream.write({ record: { value: Buffer.from(`s${i}`) } });
  (await answers).forEach((answer, i) => expected.set(Number(answer.offset), `s${i}`));
  stream.end();

  const held = await valuesOn(cluster, leader);
  for (const [offset, value] of expected) assert.equal(held.get(offset), value, `offset ${offset} on the leader`);
  assert.equal(new Set(expected.keys()).size, 9, "nine distinct offsets");

  const producer = { producerId: Buffer.alloc(16, 7), sequence: 1n };
  const refused = await client.unary("produceBatch", { values: values("once"), producer }).then(
    () => assert.fail("a follower appended an idempotent batch"),
    (error: grpc.ServiceError) => error,
  );
  assert.equal(refused.code, grpc.status.UNAVAILABLE);
  assert.equal(refused.metadata.get("loghouse-error-code")[0], "NOT_LEADER");
  assert.equal(refused.metadata.get("loghouse-leader-address")[0], cluster.address(leader));
});

test("with the leader paused, a short deadline fails at the deadline and its cancel keeps the leader from appending it", { timeout: 120_000 }, async (t) => {
  const { cluster, leader, follower, client } = await formed(t);
  await client.unary("produce", { record: { value: Buffer.from("warm") } }); // the peer connections are open
  await cluster.signal(leader, "SIGSTOP");
  const started = performance.now();
  const failure = await client.unary("produce", { record: { value: Buffer.from("late") } }, { deadline: Date.now() + SHORT_DEADLINE_MS }).then(
    () => assert.fail("a produce to a paused leader succeeded"),
    (error: grpc.ServiceError) => error,
  );
  const elapsedMs = performance.now() - started;
  await waitForwards(cluster, follower, 0);
  const behind = client.unary("produce", { record: { value: Buffer.from("behind") } }, { deadline: Date.now() + 20_000 });
  await waitForwards(cluster, follower, 1);
  await cluster.signal(leader, "SIGCONT");

  assert.equal(failure.code, grpc.status.DEADLINE_EXCEEDED);
  assert.ok(elapsedMs < SHORT_DEADLINE_MS + DEADLINE_SLACK_MS, `failed after ${Math.round(elapsedMs)} ms, deadline ${SHORT_DEADLINE_MS} ms`);
  const behindOffset = Number((await behind).offset);
  assert.equal(await cluster.leader(), leader, "the pause was shorter than an election");
  const held = await valuesOn(cluster, leader);
  assert.equal(held.get(behindOffset), "behind");
  assert.ok(![...held.values()].includes("late"), "the cancelled forward was not appended");
});

test("a caller's cancel reaches the leader: the paused leader, resumed, does not append the forward", { timeout: 120_000 }, async (t) => {
  const { cluster, leader, follower, client } = await formed(t);
  await client.unary("produce", { record: { value: Buffer.from("warm") } });
  await cluster.signal(leader, "SIGSTOP");
  const { call, result } = client.cancellable("produce", { record: { value: Buffer.from("cancelled") } }, { deadline: Date.now() + 20_000 });
  await waitForwards(cluster, follower, 1);
  call.cancel();
  const failure = await result.then(
    () => assert.fail("a cancelled produce succeeded"),
    (error: grpc.ServiceError) => error,
  );
  assert.equal(failure.code, grpc.status.CANCELLED);
  await waitForwards(cluster, follower, 0);
  const behind = client.unary("produce", { record: { value: Buffer.from("behind") } }, { deadline: Date.now() + 20_000 });
  await waitForwards(cluster, follower, 1);
  await cluster.signal(leader, "SIGCONT");

  const behindOffset = Number((await behind).offset);
  assert.equal(await cluster.leader(), leader, "the pause was shorter than an election");
  const held = await valuesOn(cluster, leader);
  assert.equal(held.get(behindOffset), "behind");
  assert.ok(![...held.values()].includes("cancelled"), "the cancelled forward was not appended");
});
