// AppendForwarding in memory: a follower's and a leader's, wired by a link that delivers each
// message on a later turn (as a socket would). Offsets and typed errors come back, a cancel read
// before the leader's turn keeps the records from being appended, and every bound holds.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AppendForwarding, type AppendForwardingOptions } from "../src/cluster/append-forwarding.ts";
import type { ForwardMessage } from "../src/cluster/peer-message.ts";
import { ClusterUnavailableError, ForwardsInFlightError, NotLeaderError, RpcCode, RpcError } from "../src/errors.ts";
import { waitUntil } from "./support/wait-until.ts";

const FOLLOWER = 2;
const LEADER = 1;

interface Pair {
  readonly follower: AppendForwarding;
  readonly leader: AppendForwarding;
  /** What the leader was asked to append, with the traceparent. */
  readonly appended: Array<{ values: string[]; traceparent: string }>;
  /** Messages delivered so far, by receiving node. */
  readonly delivered: Map<number, number>;
}

/** A follower and a leader whose append is `append`; `linkUp` false makes the follower's sends fail. */
function pair(append: AppendForwardingOptions["append"], limits: Partial<AppendForwardingOptions> = {}, linkUp = true): Pair {
  const appended: Pair["appended"] = [];
  const delivered = new Map<number, number>();
  const nodes = new Map<number, AppendForwarding>();
  const options = (nodeId: number): AppendForwardingOptions => ({
    nodeId,
    send: (message: ForwardMessage) => {
      if (!linkUp) return false;
      setImmediate(() => {
        nodes.get(message.to)!.receive(message);
        delivered.set(message.to, (delivered.get(message.to) ?? 0) + 1);
      });
      return true;
    },
    append: (values, traceparent) => {
      appended.push({ values: values.map((value) => Buffer.from(value).toString()), traceparent });
      return append(values, traceparent);
    },
    inFlightMax: 4,
    bytesInFlightMax: 1024,
    timeoutMsMax: 10_000,
    ...limits,
  });
  const follower = new AppendForwarding(options(FOLLOWER));
  const leader = new AppendForwarding(options(LEADER));
  nodes.set(FOLLOWER, follower).set(LEADER, leader);
  return { follower, leader, appended, delivered };
}

const values = (...texts: string[]): Buffer[] => texts.map((text) => Buffer.from(text));

test("a forward resolves with the leader's first offset and carries the traceparent", async () => {
  const { follower, appended } = pair(async () => 42);
  assert.equal(await follower.forward(LEADER, values("a", "b"), { traceparent: "00-ab-cd-01" }), 42);
  assert.deepEqual(appended, [{ values: ["a", "b"], traceparent: "00-ab-cd-01" }]);
  assert.equal(follower.waiting, 0);
});

test("the leader's typed errors come back as the catalogue's classes", async () => {
  const notLeader = pair(async () => {
    throw new NotLeaderError("not the leader", 3);
  });
  const error = await notLeader.follower.forward(LEADER, values("a")).catch((failure: unknown) => failure);
  assert.ok(error instanceof NotLeaderError);
  assert.equal(error.leaderId, 3);
  const unavailable = pair(async () => {
    throw new ClusterUnavailableError("no quorum");
  });
  await assert.rejects(unavailable.follower.forward(LEADER, values("a")), ClusterUnavailableError);
});

test("a cancel read before the leader's turn keeps the records from being appended", async () => {
  const { follower, leader, appended, delivered } = pair(async () => 1);
  const controller = new AbortController();
  const forwarded = follower.forward(LEADER, values("gone"), { signal: controller.signal });
  // Request and cancel are delivered on the same later turn, as from one socket read.
  controller.abort(new RpcError("cancelled", RpcCode.cancelled));
  await assert.rejects(forwarded, RpcError);
  // The leader looks at a request one turn after it arrived: wait for that turn to have passed.
  await waitUntil("the request and its cancel to reach the leader, and the request to be let go", () => delivered.get(LEADER) === 2 && leader.serving === 0);
  assert.deepEqual(appended, []);
});

test("a deadline that passes fails the forward with DEADLINE_EXCEEDED", async () => {
  const { follower, leader } = pair(() => new Promise(() => {}));
  const error = await follower.forward(LEADER, values("slow"), { timeoutMs: () => 20 }).catch((failure: unknown) => failure);
  assert.ok(error instanceof RpcError);
  assert.equal(error.rpcCode, RpcCode.deadlineExceeded);
  assert.equal(follower.waiting, 0);
  assert.equal(leader.serving, 1, "the leader's append was under way: the cancel changes nothing");
});

test("forwards and bytes in flight are bounded, an unreachable leader fails at once, and closing fails the waiting", async () => {
  const { follower } = pair(() => new Promise(() => {}), { inFlightMax: 2, bytesInFlightMax: 8 });
  const first = follower.forward(LEADER, values("1234"));
  await assert.rejects(follower.forward(LEADER, values("123456789")), ForwardsInFlightError);
  const second = follower.forward(LEADER, values("5678"));
  await assert.rejects(follower.forward(LEADER, values("x")), ForwardsInFlightError);
  follower.close(new ClusterUnavailableError("closing"));
  await assert.rejects(first, ClusterUnavailableError);
  await assert.rejects(second, ClusterUnavailableError);
  await assert.rejects(follower.forward(LEADER, values("x")), ClusterUnavailableError);

  const cut = pair(async () => 1, {}, false);
  await assert.rejects(cut.follower.forward(LEADER, values("x")), ClusterUnavailableError);
  assert.equal(cut.follower.waiting, 0);
});
