// Which failures the routing client retries, against a scripted log.v1.Log (support/scripted-node.ts;
// an ambiguous failure cannot be made on demand by a real node): a produce refused
// before appending (NOT_LEADER, NODE_REMOVED) is sent again; after an ambiguous one (UNAVAILABLE
// with no catalogue code, CLUSTER_UNAVAILABLE) it is only under at-least-once, or exactly-once (the
// default), whose every attempt carries the same producer id and sequence; reads are retried on
// any UNAVAILABLE; nothing is retried past the deadline; an exactly-once produce whose outcome is
// unknown is retried through a spell with no member reachable until its member is back. And close()
// ends what is under way at once: a call waiting between attempts, and a one-node client's admin call
// gone on to the leader.
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { test, type TestContext } from "node:test";
import { LoghouseClient } from "../src/client/client.ts";
import { ClusterClient, type ClusterClientOptions } from "../src/client/cluster-client.ts";
import { MembersUnreachableError } from "../src/client/cluster-view.ts";
import { retryable } from "../src/client/retry-policy.ts";
import { LogClosedError, RpcCode, RpcError } from "../src/errors.ts";
import { cleanup } from "./support/cleanup.ts";
import { failure, scriptedNode, type Answer } from "./support/scripted-node.ts";
import { waitUntil } from "./support/wait-until.ts";

async function clientOf(t: TestContext, answers: Answer[], options: ClusterClientOptions = {}) {
  const node = await scriptedNode(t, answers);
  const client = new ClusterClient([node.address], { callTimeoutMs: 5_000, backoffInitialMs: 5, backoffMaxMs: 20, ...options });
  cleanup(t, () => client.close());
  return { client, calls: node.calls, produced: node.produced };
}

test("close() ends a call waiting between attempts at once, with LogClosedError", async (t) => {
  // A produce refused (NOT_LEADER) waits 10 s before its next attempt.
  const { client, calls } = await clientOf(t, [failure(grpc.status.UNAVAILABLE, "NOT_LEADER")], { callTimeoutMs: 30_000, backoffInitialMs: 10_000, backoffMaxMs: 10_000 });
  const producing = client.produce(Buffer.from("x"));
  // Closed once the first attempt is answered: the client is taking in the refusal or already
  // waiting out its backoff (whichever it is, it must end at once).
  await waitUntil("the first attempt to be answered", () => calls() === 1);
  const closedAt = performance.now();
  client.close();
  // Before: it slept out its backoff, then failed with whatever the next attempt met.
  await assert.rejects(producing, (error: unknown) => error instanceof LogClosedError && /client is closed/.test(error.message));
  assert.ok(performance.now() - closedAt < 1_000, `it ended ${Math.round(performance.now() - closedAt)} ms after close()`);
  assert.equal(calls(), 1, "nothing more was sent");
});

test("close() ends a one-node client's admin call gone on to the leader at once, with LogClosedError", async (t) => {
  // The leader GetServers names accepts connections and never answers: the call there waits.
  const accepted: Socket[] = [];
  const silent = createServer((socket) => accepted.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
  cleanup(t, () => {
    for (const socket of accepted) socket.destroy();
    return new Promise((resolve) => silent.close(resolve));
  });
  const leaderAddress = `127.0.0.1:${(silent.address() as { port: number }).port}`;
  const follower = await scriptedNode(t, [failure(grpc.status.UNAVAILABLE, "NOT_LEADER")], {
    members: (self) => [
      { id: "1", rpcAddr: self, isLeader: false },
      { id: "2", rpcAddr: leaderAddress, isLeader: true },
    ],
  });
  const client = new LoghouseClient(follower.address, { callTimeoutMs: 30_000 });
  cleanup(t, () => client.close());
  const removing = client.removeMember("n-3");
  await waitUntil("the call to go on to the leader", () => accepted.length > 0);
  const closedAt = performance.now();
  client.close();
  // Before: the client made to reach the leader was not closed, and the call waited out its 30 s.
  await assert.rejects(removing, (error: unknown) => error instanceof LogClosedError && /client is closed/.test(error.message));
  assert.ok(performance.now() - closedAt < 1_000, `it ended ${Math.round(performance.now() - closedAt)} ms after close()`);
});

test("a produce refused before appending is sent again", async (t) => {
  const { client, calls } = await clientOf(t, [failure(grpc.status.UNAVAILABLE, "NOT_LEADER"), failure(grpc.status.FAILED_PRECONDITION, "NODE_REMOVED")]);
  assert.equal(await client.produce(Buffer.from("x")), 7n);
  assert.equal(calls(), 3);
});

test("after an ambiguous failure a produce is not sent again under at-most-once", async (t) => {
  for (const ambiguous of [failure(grpc.status.UNAVAILABLE), failure(grpc.status.UNAVAILABLE, "CLUSTER_UNAVAILABLE")]) {
    const { client, calls, produced } = await clientOf(t, [ambiguous], { produceDelivery: "at-most-once" });
    await assert.rejects(client.produce(Buffer.from("x")), (error: unknown) => error instanceof Error && error.message === ambiguous.details);
    assert.equal(calls(), 1, `${ambiguous.details}: one attempt`);
    assert.equal((produced[0] as { producer?: unknown }).producer, undefined, "no producer named");
  }
});

test("exactly-once (the default) sends a produce again after ambiguous failures, each attempt as the same producer and sequence", async (t) => {
  const { client, calls, produced } = await clientOf(t, [failure(grpc.status.UNAVAILABLE), failure(grpc.status.UNAVAILABLE, "CLUSTER_UNAVAILABLE")]);
  assert.equal(await client.produce(Buffer.from("x")), 7n);
  assert.equal(await client.produce(Buffer.from("y")), 7n);
  assert.equal(calls(), 4);
  const producers = produced.map((request) => (request as { producer: { producerId: Uint8Array; sequence: bigint } }).producer);
  assert.equal(producers[0]!.producerId.length, 16);
  assert.ok(producers.every((producer) => Buffer.from(producer.producerId).equals(Buffer.from(producers[0]!.producerId))), "one producer id per client");
  assert.deepEqual(producers.map((producer) => producer.sequence), [0n, 0n, 0n, 1n]);
});

test("at-least-once sends a produce again after ambiguous failures", async (t) => {
  const { client, calls } = await clientOf(t, [failure(grpc.status.UNAVAILABLE), failure(grpc.status.UNAVAILABLE, "CLUSTER_UNAVAILABLE")], { produceDelivery: "at-least-once" });
  assert.equal(await client.produce(Buffer.from("x")), 7n);
  assert.equal(calls(), 3);
});

test("reads are retried on UNAVAILABLE; other failures are final", async (t) => {
  const { client, calls } = await clientOf(t, [failure(grpc.status.UNAVAILABLE), failure(grpc.status.UNAVAILABLE, "LOG_CLOSED"), "ok", failure(grpc.status.DATA_LOSS, "DATA_LOSS")]);
  assert.equal(Buffer.from((await client.read(7n)).value).toString(), "seven");
  assert.equal(calls(), 3);
  await assert.rejects(client.read(7n), (error: unknown) => error instanceof Error && error.name === "DataLossError");
  assert.equal(calls(), 4);
});

test("retries stop at the deadline with the last failure (or the deadline, when it passed during the last attempt)", async (t) => {
  const { client, calls } = await clientOf(t, Array.from({ length: 10_000 }, () => failure(grpc.status.UNAVAILABLE)), { callTimeoutMs: 300 });
  const started = performance.now();
  await assert.rejects(client.read(7n), (error: unknown) => error instanceof RpcError && (error.rpcCode === RpcCode.unavailable || error.rpcCode === RpcCode.deadlineExceeded));
  const elapsedMs = performance.now() - started;
  assert.ok(elapsedMs < 300 + 2_500, `gave up after ${elapsedMs} ms`);
  assert.ok(calls() > 2, `${calls()} attempts in the deadline`);
});

test("no member reachable ends a call, except a write whose earlier attempt may have been appended under a delivery that retries it", () => {
  // The fault run's case: every member died while an exactly-once produce was being retried.
  // Giving up there would leave its outcome unknown to the caller for good.
  const unreachable = new MembersUnreachableError("cannot connect to any member");
  assert.equal(retryable("write", unreachable, "exactly-once", true), true);
  assert.equal(retryable("write", unreachable, "at-least-once", true), true);
  assert.equal(retryable("write", unreachable, "at-most-once", true), false);
  assert.equal(retryable("write", unreachable, "exactly-once", false), false, "nothing was sent yet: fail at once");
  assert.equal(retryable("read", unreachable, "exactly-once", true), false);
});

test("a call the server resets (CANCELLED, as a grpc-js server shutting down sends) is ambiguous: retried by exactly-once and by reads, not by at-most-once", async (t) => {
  const exactlyOnce = await clientOf(t, [failure(grpc.status.CANCELLED)]);
  assert.equal(await exactlyOnce.client.produce(Buffer.from("x")), 7n);
  assert.equal(exactlyOnce.calls(), 2);
  const reads = await clientOf(t, [failure(grpc.status.CANCELLED)]);
  assert.equal(Buffer.from((await reads.client.read(7n)).value).toString(), "seven");
  assert.equal(reads.calls(), 2);
  const atMostOnce = await clientOf(t, [failure(grpc.status.CANCELLED)], { produceDelivery: "at-most-once" });
  await assert.rejects(atMostOnce.client.produce(Buffer.from("x")));
  assert.equal(atMostOnce.calls(), 1);
});

test("exactly-once keeps trying a produce whose outcome is unknown while no member is reachable, and learns it once one is back", async (t) => {
  // The only member goes away in the middle of the first attempt (its outcome unknown), so the
  // retries cannot reach it. While it is away its port takes connections and drops them (no member
  // reachable); then it is back at the same address.
  const first = await scriptedNode(t, ["vanish"]);
  const port = Number(first.address.split(":")[1]);
  const client = new ClusterClient([first.address], { callTimeoutMs: 20_000, backoffInitialMs: 20, backoffMaxMs: 100 });
  cleanup(t, () => client.close());
  const produced = client.produce(Buffer.from("x"));
  let failedEarly: unknown;
  produced.catch((error: unknown) => (failedEarly = error)); // awaited below; a failure must not be reported as unhandled first
  await waitUntil("the first attempt", () => first.calls() > 0 || failedEarly !== undefined, 30_000);
  assert.equal(failedEarly, undefined, "the produce failed before its first attempt reached the node");
  let refused = 0;
  const dropper = createServer((socket) => {
    refused++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => dropper.listen(port, "127.0.0.1", resolve));
  const closeDropper = (): Promise<void> => new Promise<void>((resolve) => dropper.close(() => resolve()));
  cleanup(t, () => (dropper.listening ? closeDropper() : undefined));
  // grpc-js spaces its reconnects (1 s, then growing), so a few seconds pass between attempts.
  await waitUntil("attempts finding no member", () => refused >= 2, 30_000);
  await closeDropper();
  const back = await scriptedNode(t, [], { port });
  assert.equal(await produced, 7n, `after ${refused} dropped connections`);
  const sequences = [...first.produced, ...back.produced].map((request) => (request as { producer: { sequence: bigint } }).producer.sequence);
  assert.deepEqual(sequences, [0n, 0n], "the retry is the same batch");
});
