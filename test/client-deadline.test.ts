// Deadlines and backoff of the routing client: a member that accepts connections and never answers
// (a raw TCP listener) fails every kind of call with DEADLINE_EXCEEDED at the deadline, in code and
// through the CLI, instead of hanging; a dead or silent address beside a live node costs nothing,
// and no live address at all fails at once; a leader or follower whose connection never completes
// is given up at the connect bound, and the produce or following stream goes to another member (so
// is such a member asked who leads, and a read goes ahead without a leader named); the
// backoff between retries grows, is capped, jittered.
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { createServer, type Socket } from "node:net";
import { test, type TestContext } from "node:test";
import { LoghouseClient } from "../src/client/client.ts";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { ClusterView } from "../src/client/cluster-view.ts";
import { Backoff } from "../src/client/retry-policy.ts";
import { ClusterUnavailableError, InvalidArgumentError, RpcCode, RpcError } from "../src/errors.ts";
import type { GetServersResponse } from "../src/gen/log/v1/log_pb.ts";
import { cleanup } from "./support/cleanup.ts";
import { freePort } from "./support/free-port.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { runCli } from "./support/run-cli.ts";
import { failure, scriptedNode, type ScriptedNode } from "./support/scripted-node.ts";
import { TestRandom } from "./support/test-random.ts";

const DEADLINE_MS = 500;
/** A loaded machine may be late to fire a timer; the point is that the call does not hang. */
const LATE_MS_MAX = 2_500;

/** A listener that accepts every connection and never sends a byte; `onConnection` is told of each. */
async function silentListener(t: TestContext, onConnection: () => void = () => undefined): Promise<string> {
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket.on("error", () => undefined));
    onConnection();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup(t, () => new Promise((resolve) => server.close(resolve)));
  cleanup(t, () => sockets.forEach((socket) => socket.destroy()));
  return `127.0.0.1:${(server.address() as { port: number }).port}`;
}

const deadlineExceeded = (error: unknown): boolean => error instanceof RpcError && error.rpcCode === RpcCode.deadlineExceeded;

async function failsAtDeadline(what: string, call: () => Promise<unknown>): Promise<void> {
  const started = performance.now();
  await assert.rejects(call(), deadlineExceeded, what);
  const elapsedMs = performance.now() - started;
  assert.ok(elapsedMs >= DEADLINE_MS - 50, `${what} gave up early, after ${elapsedMs} ms`);
  assert.ok(elapsedMs < DEADLINE_MS + LATE_MS_MAX, `${what} took ${elapsedMs} ms for a ${DEADLINE_MS} ms deadline`);
}

test("a member that never answers fails produce, reads and a following consume with DEADLINE_EXCEEDED at the deadline", async (t) => {
  const silent = await silentListener(t);
  const client = new ClusterClient([silent], { callTimeoutMs: DEADLINE_MS });
  cleanup(t, () => client.close());
  await failsAtDeadline("produce", () => client.produce(Buffer.from("x")));
  await failsAtDeadline("produceBatch", () => client.produceBatch([Buffer.from("x")]));
  await failsAtDeadline("read", () => client.read(0n));
  await failsAtDeadline("offsets", () => client.offsets());
  await failsAtDeadline("a following consume", async () => {
    for await (const _ of client.consume({ from: 0n, follow: true })) assert.fail("no record comes from a silent member");
  });
});

test("the CLI gives up on a member that never answers at --timeout, exit 1 and one line", async (t) => {
  const silent = await silentListener(t);
  for (const args of [["produce"], ["consume", "--follow"], ["status"]]) {
    const result = await runCli([...args, "--server", silent, "--timeout", `${DEADLINE_MS}ms`], { input: "x\n" });
    assert.equal(result.code, 1, `${args.join(" ")}: ${result.stderr}`);
    assert.match(result.stderr, /^loghouse: DEADLINE_EXCEEDED: /, args.join(" "));
  }
});

test("a dead address before a live node in the list costs nothing: writes and reads reach the node", async (t) => {
  const server = await startLogServer(t);
  const dead = `127.0.0.1:${await freePort()}`;
  const client = new ClusterClient(`${dead},${addressOf(server)}`, { callTimeoutMs: 5_000 });
  cleanup(t, () => client.close());
  const offset = await client.produce(Buffer.from("through the live one"));
  assert.equal(Buffer.from((await client.read(offset)).value).toString(), "through the live one");
  assert.equal(client.leaderAddress, addressOf(server));
});

test("a silent member in the list costs nothing: the others are asked at the same time", async (t) => {
  const silent = await silentListener(t);
  const server = await startLogServer(t);
  const client = new ClusterClient([silent, addressOf(server)], { callTimeoutMs: 5_000 });
  cleanup(t, () => client.close());
  const started = performance.now();
  const offset = await client.produce(Buffer.from("x"));
  assert.equal(Buffer.from((await client.read(offset)).value).toString(), "x");
  assert.ok(performance.now() - started < LATE_MS_MAX, `took ${performance.now() - started} ms`);
});

test("a single node is used at the address it was reached at, whatever it advertises", async (t) => {
  const server = await startLogServer(t, { advertiseAddress: `127.0.0.1:${await freePort()}` });
  const client = new ClusterClient([addressOf(server)], { callTimeoutMs: 5_000 });
  cleanup(t, () => client.close());
  const offset = await client.produce(Buffer.from("x"));
  assert.equal(Buffer.from((await client.read(offset)).value).toString(), "x");
  assert.equal(client.leaderAddress, addressOf(server));
});

const CONNECT_TIMEOUT_MS = 300;

/** GetServers members: the scripted node leading, and `follower` following. */
const leadingWithFollower = (follower: string) => (self: string) => [{ id: "1", rpcAddr: self, isLeader: true }, { id: "2", rpcAddr: follower, isLeader: false }];

/** Asserts that what ended now, begun at `started` (performance.now()), waited out one connect bound and not much more. */
function assertOneConnectBound(what: string, started: number): void {
  const elapsedMs = performance.now() - started;
  assert.ok(elapsedMs >= CONNECT_TIMEOUT_MS - 50 && elapsedMs < CONNECT_TIMEOUT_MS + LATE_MS_MAX, `${what} after ${elapsedMs} ms`);
}

test("a leader that takes connections and never completes them is given up at the connect bound: the produce goes to the leader named next", async (t) => {
  const silent = await silentListener(t);
  // The cluster names the silent member as leader until it has been asked twice, then itself.
  let asked = 0;
  const node = await scriptedNode(t, [], {
    members: (self) =>
      ++asked <= 1
        ? [{ id: "1", rpcAddr: self, isLeader: false, term: 1n }, { id: "2", rpcAddr: silent, isLeader: true, term: 1n }]
        : [{ id: "1", rpcAddr: self, isLeader: true, term: 2n }, { id: "2", rpcAddr: silent, isLeader: false, term: 2n }],
  });
  const client = new ClusterClient([node.address], { callTimeoutMs: 20_000, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  cleanup(t, () => client.close());
  const started = performance.now();
  assert.equal(await client.produce(Buffer.from("x")), 7n);
  assertOneConnectBound("acknowledged", started);
  assert.equal(node.calls(), 1, "sent once: nothing was sent to the silent member");
  assert.equal(client.leaderAddress, node.address);
});

test("a following consume whose follower takes connections and never completes them reads elsewhere after the connect bound", async (t) => {
  const silent = await silentListener(t);
  const node = await scriptedNode(t, [], { members: leadingWithFollower(silent) });
  const client = new ClusterClient([node.address], { callTimeoutMs: 20_000, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  cleanup(t, () => client.close());
  const abort = new AbortController();
  cleanup(t, () => abort.abort());
  const started = performance.now();
  for await (const record of client.consume({ from: 7n, follow: true, signal: abort.signal })) {
    assert.deepEqual([record.offset, Buffer.from(record.value).toString()], [7n, "seven"]);
    break;
  }
  assertOneConnectBound("first record", started);
});

test("asking who leads gives up a member whose connection never completes at the connect bound: with no leader named, a read goes ahead", async (t) => {
  const silent = await silentListener(t);
  // The only other member knows no leader (an election under way) but serves committed reads.
  const node = await scriptedNode(t, [], { members: (self) => [{ id: "1", rpcAddr: self, isLeader: false }] });
  const client = new ClusterClient([silent, node.address], { callTimeoutMs: 20_000, connectTimeoutMs: CONNECT_TIMEOUT_MS });
  cleanup(t, () => client.close());
  const started = performance.now();
  assert.equal(Buffer.from((await client.read(7n)).value).toString(), "seven");
  assertOneConnectBound("read", started);
});

test("a following consume ends at once when aborted while its member takes the connection and never completes it", async (t) => {
  // The abort comes once the client is connecting (the bound is 30 s here): asking the only member who
  // leads, and, with a member already named, opening the stream on a follower that is silent.
  const cases = [
    ["asking who leads", async (silent: string) => [silent]],
    ["opening its stream", async (silent: string) => [(await scriptedNode(t, [], { members: leadingWithFollower(silent) })).address]],
  ] as const;
  for (const [what, members] of cases) {
    const abort = new AbortController();
    let abortedAt = 0;
    const silent = await silentListener(t, () => {
      abortedAt ||= performance.now();
      abort.abort();
    });
    const client = new ClusterClient(await members(silent), { callTimeoutMs: 60_000, connectTimeoutMs: 30_000 });
    cleanup(t, () => client.close());
    for await (const _ of client.consume({ from: 7n, follow: true, signal: abort.signal })) assert.fail(`${what}: no record comes from a silent member`);
    assert.ok(abortedAt > 0, `${what}: the client connected`);
    assert.ok(performance.now() - abortedAt < LATE_MS_MAX, `${what}: ended ${performance.now() - abortedAt} ms after its abort`);
  }
});

test("a deadline, connect bound, linger or backoff that is not a positive integer a timer can wait is refused when the client is made", () => {
  // Past 2^31 - 1 ms a timer fires at once, and grpc-js never settled a call with such a deadline.
  const tooLong = 2 ** 31;
  for (const options of [{ callTimeoutMs: 0 }, { callTimeoutMs: 1.5 }, { connectTimeoutMs: 0 }, { connectTimeoutMs: -1 }, { callTimeoutMs: tooLong }, { connectTimeoutMs: Number.MAX_SAFE_INTEGER }, { backoffMaxMs: tooLong }]) {
    assert.throws(() => new ClusterClient(["127.0.0.1:1"], options), InvalidArgumentError, JSON.stringify(options));
  }
  assert.throws(() => new LoghouseClient("127.0.0.1:1", { callTimeoutMs: tooLong }), { name: "InvalidArgumentError", message: `callTimeoutMs must be an integer from 1 to ${tooLong - 1}, got ${tooLong}` });
  assert.throws(() => new ClusterClient(["127.0.0.1:1"]).producer({ lingerMs: tooLong }), InvalidArgumentError);
  // A string from a configuration file is named as given, not shown as the number it looks like.
  assert.throws(() => new ClusterClient(["127.0.0.1:1"], { connectTimeoutMs: "5" as unknown as number }), {
    name: "InvalidArgumentError",
    message: `connectTimeoutMs must be an integer from 1 to ${tooLong - 1}, got "5" (a string)`,
  });
});

test("TLS material given as a path, or a token with a line break, is refused when the client is made, and the token is not shown", () => {
  for (const make of [(options: object) => new LoghouseClient("127.0.0.1:1", options), (options: object) => new ClusterClient(["127.0.0.1:1"], options)]) {
    // Before: a TypeError from grpc-js (the routing client's only at its first call).
    assert.throws(() => make({ tls: { ca: "/etc/loghouse/ca.pem" } }), { name: "InvalidArgumentError", message: /^tls.ca must be the PEM's contents as a Buffer \(read the file first\), got a string$/ });
    // Before: a plain Error at the first call, whose message held the token.
    const secret = "s3cret-token-0123456789";
    assert.throws(() => make({ token: `${secret}\n` }), (error: unknown) => error instanceof InvalidArgumentError && /line breaks/.test(error.message) && !error.message.includes(secret));
    assert.throws(() => make({ token: "" }), InvalidArgumentError);
  }
});

test("an address that is not HOST:PORT is refused when the client is made; spaces around one are not an error", async (t) => {
  // Before: "127.0.0.1" dialled port 443, and the others failed at the first call or with a TypeError.
  for (const address of ["127.0.0.1", "http://127.0.0.1:8400", "", "127.0.0.1:0", undefined]) {
    assert.throws(() => new LoghouseClient(address as never), { name: "InvalidArgumentError", message: /^an address must be HOST:PORT/ }, String(address));
  }
  for (const addresses of [[], "", " , ", undefined, ["127.0.0.1:8400", "nowhere"]]) {
    assert.throws(() => new ClusterClient(addresses as never), InvalidArgumentError, JSON.stringify(addresses));
  }
  const server = await startLogServer(t);
  const client = new LoghouseClient(` ${addressOf(server)} `);
  cleanup(t, () => client.close());
  assert.equal((await client.offsets()).endOffset, 0n);
});

test("when no member can be connected to at all, calls fail at once instead of retrying to the deadline", async (t) => {
  const client = new ClusterClient([`127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`], { callTimeoutMs: 20_000 });
  cleanup(t, () => client.close());
  for (const [what, call] of [["produce", () => client.produce(Buffer.from("x"))], ["read", () => client.read(1n)]] as const) {
    const started = performance.now();
    await assert.rejects(call(), (error: unknown) => error instanceof RpcError && error.rpcCode === RpcCode.unavailable && /ECONNREFUSED/.test(error.message), what);
    assert.ok(performance.now() - started < LATE_MS_MAX, `${what} took ${performance.now() - started} ms`);
  }
});

test("backoff doubles up to its cap and is jittered below it", (t) => {
  const random = TestRandom.forTest(t);
  const backoff = new Backoff(50, 1_000, () => random.int(0, 1_000_000) / 1_000_000);
  const ceilings = [50, 100, 200, 400, 800, 1_000, 1_000, 1_000];
  const waits = ceilings.map((ceiling, attempt) => {
    const waitMs = backoff.delayMs(attempt);
    assert.ok(waitMs >= 0 && waitMs < ceiling, `attempt ${attempt} waits ${waitMs}, ceiling ${ceiling}`);
    return waitMs;
  });
  assert.ok(new Set(waits).size > 1, "the waits are jittered");
  assert.equal(new Backoff(50, 1_000, () => 0.999).delayMs(40), 999);
});

test("when no member names a leader, a write says that members answered and know none, not that the first could not be reached", async (t) => {
  const refused = `127.0.0.1:${await freePort()}`;
  const node = await scriptedNode(t, [], { members: (self) => [{ id: "1", rpcAddr: self, isLeader: false }] });
  const client = new ClusterClient([refused, node.address], { callTimeoutMs: 2_000 });
  cleanup(t, () => client.close());
  // Before: UNAVAILABLE "cannot reach the node (connect ECONNREFUSED ...)", the first seed's reason.
  await assert.rejects(client.produce(Buffer.from("x")), (error: unknown) => error instanceof ClusterUnavailableError && /knows no leader/.test(error.message));
});

test("a write whose last attempt the deadline ends before anything is sent says why the attempts before it failed", async (t) => {
  // Each answer takes 150 ms, so attempts end in the middle of one: the last ask is cut by the deadline.
  const node = await scriptedNode(t, [], { members: (self) => [{ id: "1", rpcAddr: self, isLeader: false }], serversDelayMs: 150 });
  for (const delivery of ["exactly-once", "at-least-once"] as const) {
    const client = new ClusterClient([node.address], { callTimeoutMs: 1_000, backoffInitialMs: 1, backoffMaxMs: 1, produceDelivery: delivery });
    cleanup(t, () => client.close());
    // Before: DEADLINE_EXCEEDED, or, with the first seed refused, "cannot reach" and "its records may be in the log" though nothing was ever sent.
    await assert.rejects(
      client.produce(Buffer.from("x")),
      (error: unknown) => error instanceof ClusterUnavailableError && /knows no leader/.test(error.message) && !/may be in the log/.test(error.message),
      delivery,
    );
  }
  assert.equal(node.produced.length, 0);
});

test("a write sent once with an unknown outcome, whose later attempts find no leader until the deadline, says its records may be in the log", async (t) => {
  // The leader loses the produce's connection (UNAVAILABLE: it may have appended), then knows no
  // leader; each answer takes 150 ms, so the last attempt is cut by the deadline before it sends.
  let node: ScriptedNode | undefined;
  node = await scriptedNode(t, [failure(grpc.status.UNAVAILABLE)], {
    members: (self) => [{ id: "1", rpcAddr: self, isLeader: node === undefined || node.produced.length === 0 }],
    serversDelayMs: 150,
  });
  const client = new ClusterClient([node.address], { callTimeoutMs: 1_000, backoffInitialMs: 1, backoffMaxMs: 1 });
  cleanup(t, () => client.close());
  // Before: ClusterUnavailableError "... knows no leader", as if nothing had been sent.
  await assert.rejects(client.produce(Buffer.from("x")), (error: unknown) => error instanceof ClusterUnavailableError && /may be in the log/.test(error.message));
  assert.equal(node.produced.length, 1);
});

test("a call that joins a refresh started by a call with an earlier deadline is not failed by that deadline", async () => {
  // The member answers only calls that can wait for it: one asked with less than a second left is
  // cut at its deadline, as the channel cuts it.
  const answer = { clusterId: "", servers: [{ id: "1", rpcAddr: "member:1", isLeader: true, isVoter: true, term: 1n }] } as unknown as GetServersResponse;
  const ask = (_address: string, deadline: number): Promise<GetServersResponse> =>
    deadline - Date.now() < 1_000 ? new Promise((_resolve, reject) => setTimeout(() => reject(new RpcError("deadline exceeded", RpcCode.deadlineExceeded)), Math.max(0, deadline - Date.now()))) : Promise.resolve(answer);
  const view = new ClusterView(["member:1"], ask, 1_000, 1_000, undefined);
  const early = view.leaderAddress(Date.now() + 50);
  const late = view.leaderAddress(Date.now() + 20_000);
  await assert.rejects(early, deadlineExceeded);
  // Before: the later call failed with the earlier call's DEADLINE_EXCEEDED.
  assert.equal(await late, "member:1");
});
