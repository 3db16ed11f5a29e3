// A 3-node Raft cluster over real TCP on loopback, each replica writing the native log: the Raft
// log is the data log. Records are acknowledged only once committed, appear at the same offsets on
// every node, and survive the loss and return of the leader. Proposals of one turn travel together.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { ClusterUnavailableError, DataLossError, LogClosedError, NotLeaderError, OffsetOutOfRangeError, ProposalRefusedError, RecordTooLargeError } from "../src/errors.ts";
import { ProposeRejection, Role } from "../src/raft/index.ts";
import { LocalCluster } from "./support/local-cluster.ts";
import { flipByte } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntil, waitUntilAsync } from "./support/wait-until.ts";
import { cleanup } from "./support/cleanup.ts";

function batch(tag: string, count: number): Buffer[] {
  return Array.from({ length: count }, (_, i) => Buffer.from(`${tag}-${i}`));
}

/** Every record in [from, end) on every running node, as "offset:type:value@time" strings. */
function contents(cluster: LocalCluster, end: number): Map<number, string[]> {
  const result = new Map<number, string[]>();
  for (const node of cluster.nodes.values()) {
    const records = node.replica.committed.readRange(node.replica.committed.lowestOffset, { countMax: end, bytesMax: 1 << 24 });
    result.set(node.id, records.map((r) => `${r.offset}:${r.type}:${r.value.toString()}@${r.timestampMs}`));
  }
  return result;
}

describe("replicated log", () => {
  test("a 3-node cluster elects one leader and commits identical records on every node", async (t) => {
    const cluster = new LocalCluster(await tempDir(t), [1, 2, 3]);
    cleanup(t, () => cluster.stopAll());
    await cluster.startAll();
    const leader = await cluster.leader();
    const acknowledged = new Map<number, string>();
    for (let round = 0; round < 20; round++) {
      const values = batch(`r${round}`, 50);
      const first = await leader.replica.propose(values);
      values.forEach((value, i) => acknowledged.set(first + i, value.toString()));
    }
    const end = Math.max(...acknowledged.keys()) + 1;
    await waitUntil("every node to commit everything", () => [...cluster.nodes.values()].every((n) => n.replica.committed.nextOffset >= end));
    const views = contents(cluster, end);
    const reference = views.get(leader.id)!;
    for (const [id, view] of views) assert.deepEqual(view, reference, `node ${id} holds the leader's records in the leader's order`);
    for (const [offset, value] of acknowledged) assert.ok(reference.some((record) => record.startsWith(`${offset}:0:${value}@`)), `offset ${offset} holds ${value}`);
    const follower = [...cluster.nodes.values()].find((n) => n.id !== leader.id)!;
    await assert.rejects(follower.replica.propose(batch("x", 1)), (error: unknown) => error instanceof NotLeaderError && error.leaderId === leader.id);
    assert.equal(follower.replica.committed.read(end - 1).value.toString(), acknowledged.get(end - 1));
    assert.throws(() => follower.replica.committed.read(end + 1000), OffsetOutOfRangeError);
    assert.equal(follower.log.read(end - 1).timestampMs, leader.log.read(end - 1).timestampMs, "followers keep the leader's creation time");
  });

  test("proposals made in the same turn travel to the followers together; each caller gets its own offsets", async (t) => {
    const cluster = new LocalCluster(await tempDir(t), [1, 2, 3]);
    cleanup(t, () => cluster.stopAll());
    await cluster.startAll();
    const leader = await cluster.leader();
    await leader.replica.propose(batch("warm", 1));
    const sentBefore = leader.transport.stats().messagesSent;
    const callers = 64;
    const firsts = await Promise.all(Array.from({ length: callers }, (_, i) => leader.replica.propose(batch(`c${i}`, 1 + (i % 3)))));
    const sent = leader.transport.stats().messagesSent - sentBefore;
    // One append per call would be 2 x 64 messages; together they are one per follower (and heartbeats).
    assert.ok(sent < callers, `${sent} messages for ${callers} proposals`);
    firsts.forEach((first, i) => {
      const values = batch(`c${i}`, 1 + (i % 3));
      values.forEach((value, j) => assert.equal(leader.replica.committed.read(first + j).value.toString(), value.toString(), `caller ${i} record ${j}`));
    });
    t.diagnostic(`${callers} proposals in one turn: ${sent} messages from the leader`);
  });

  test("a record larger than the log takes is refused before it is proposed, and the cluster carries on", async (t) => {
    const cluster = new LocalCluster(await tempDir(t), [1, 2, 3], 30_000, { recordBytesMax: 1024 });
    cleanup(t, () => cluster.stopAll());
    await cluster.startAll();
    const leader = await cluster.leader();
    await assert.rejects(leader.replica.propose([Buffer.from("small"), Buffer.alloc(1025)]), RecordTooLargeError);
    const first = await leader.replica.propose([Buffer.from("after")]);
    assert.equal(leader.replica.committed.read(first).value.toString(), "after");
  });

  test("losing the leader elects another; the old leader rejoins and every acknowledged record is kept exactly once", async (t) => {
    const cluster = new LocalCluster(await tempDir(t), [1, 2, 3]);
    cleanup(t, () => cluster.stopAll());
    await cluster.startAll();
    const acknowledged = new Map<number, string>();
    const produce = async (tag: string): Promise<void> => {
      const leader = await cluster.leader();
      const values = batch(tag, 20);
      try {
        const first = await leader.replica.propose(values);
        values.forEach((value, i) => acknowledged.set(first + i, value.toString()));
      } catch {
        // Not acknowledged: the leader stepped down or stopped while the batch was in flight.
      }
    };
    for (let round = 0; round < 10; round++) await produce(`before-${round}`);
    const oldLeader = await cluster.leader();
    const inFlight = produce("in-flight");
    await cluster.stop(oldLeader.id);
    await inFlight;
    const newLeader = await cluster.leader();
    assert.notEqual(newLeader.id, oldLeader.id);
    for (let round = 0; round < 10; round++) await produce(`after-${round}`);
    await cluster.start(oldLeader.id);
    const end = Math.max(...acknowledged.keys()) + 1;
    await waitUntil("all three to hold everything", () => cluster.nodes.size === 3 && [...cluster.nodes.values()].every((n) => n.replica.committed.nextOffset >= end));
    const views = contents(cluster, end);
    const reference = views.get(newLeader.id)!;
    for (const [id, view] of views) assert.deepEqual(view, reference, `node ${id} agrees with the leader`);
    for (const [offset, value] of acknowledged) {
      const held = reference.filter((entry) => entry.includes(`:0:${value}@`)).map((entry) => entry.slice(0, entry.indexOf("@")));
      assert.deepEqual(held, [`${offset}:0:${value}`], `acknowledged ${value} is at ${offset}, once`);
    }
  });

  test("without a quorum a proposal fails in bounded time instead of hanging, and nothing uncommitted is served", async (t) => {
    const cluster = new LocalCluster(await tempDir(t), [1, 2, 3], 300);
    cleanup(t, () => cluster.stopAll());
    await cluster.startAll();
    const leader = await cluster.leader();
    await leader.replica.propose(batch("ok", 1));
    const before = leader.replica.committed.nextOffset;
    for (const id of [1, 2, 3]) if (id !== leader.id) await cluster.stop(id);
    await assert.rejects(leader.replica.propose(batch("stranded", 1)), ClusterUnavailableError);
    assert.equal(leader.replica.committed.nextOffset, before, "the stranded record is never visible");
    assert.throws(() => leader.replica.committed.read(before), OffsetOutOfRangeError);
  });

  test("a leader that reads a damaged record stops instead of crashing: it hands over leadership and the others carry on", async (t) => {
    const cluster = new LocalCluster(await tempDir(t), [1, 2, 3], 30_000, { indexEntriesMax: 1000 });
    cleanup(t, () => cluster.stopAll());
    await cluster.startAll();
    const leader = await cluster.leader();
    const [lagging, other] = [1, 2, 3].filter((id) => id !== leader.id) as [number, number];
    await cluster.stop(lagging);
    // 12 MiB, beyond what the replica keeps in memory, so that catching up reads the store.
    const value = Buffer.alloc(1024, 7);
    for (let round = 0; round < 120; round++) await leader.replica.propose(Array.from({ length: 100 }, () => value));
    const end = leader.replica.committed.nextOffset;
    const stores = (await readdir(cluster.logDir(leader.id))).filter((name) => name.endsWith(".store")).sort();
    await flipByte(join(cluster.logDir(leader.id), stores[1]!), 500 * 1050);
    await cluster.start(lagging);
    await waitUntil("the leader to meet the damaged record", () => cluster.damage.length > 0, 20_000);
    assert.deepEqual(cluster.damage.map((d) => d.id), [leader.id]);
    assert.ok(cluster.damage[0]!.error instanceof DataLossError);
    assert.equal(leader.replica.isLeader, false, "it stepped down");
    assert.equal(leader.replica.status().leadTransferee, other, "handing over to the voter that holds its whole log");
    await assert.rejects(leader.replica.propose(batch("refused", 1)), LogClosedError);
    await cluster.stop(leader.id);
    const next = await cluster.leader(20_000);
    assert.ok(next.id === other || next.id === lagging);
    await waitUntil("the lagging node to catch up from the new leader", () => cluster.nodes.get(lagging)!.replica.committed.nextOffset >= end, 20_000);
  });
  test("an idempotent batch refused at the turn's end, queued behind an uncommitted proposal, is written when sent again", async (t) => {
    const cluster = new LocalCluster(await tempDir(t), [1, 2, 3]);
    cleanup(t, () => cluster.stopAll());
    await cluster.startAll();
    const leader = await cluster.leader();
    await leader.replica.propose(batch("warm", 1)); // an entry of the leader's term applied: appendOnce decides at once
    const target = [...cluster.nodes.keys()].find((id) => id !== leader.id)!;
    // A transfer to a voter that is down stays under way until the leader gives it up.
    await cluster.stop(target);
    const producerId = randomBytes(16);
    // In one turn: a batch proposed at once (uncommitted until a follower answers), the transfer,
    // then a second batch, which waits behind the first for the turn's end (proposal-coalescer.ts)
    // and is refused there.
    const first = leader.replica.appendOnce([Buffer.from("first")], { producerId, sequence: 0n });
    leader.replica.transferLeadership(target);
    const second = { producerId, sequence: 1n };
    await assert.rejects(leader.replica.appendOnce([Buffer.from("second")], second), (error: unknown) => {
      return error instanceof ProposalRefusedError && error.reason === ProposeRejection.TransferInProgress;
    });
    const { firstOffset } = await first;
    // Sent again until the transfer is given up: each attempt is refused at once or written. Before,
    // the refused batch stayed "in flight" and every retry waited for an outcome that never came.
    const written = await waitUntilAsync("the second batch to be written once the transfer is given up", async () => {
      const attempt = leader.replica.appendOnce([Buffer.from("second")], second).catch((error: unknown) => {
        if (error instanceof ProposalRefusedError && error.reason === ProposeRejection.TransferInProgress) return undefined;
        throw error;
      });
      let timer: NodeJS.Timeout | undefined;
      const stuck = new Promise<"stuck">((resolve) => (timer = setTimeout(() => resolve("stuck"), 5_000)));
      const settled = await Promise.race([attempt, stuck]).finally(() => clearTimeout(timer));
      assert.notEqual(settled, "stuck", "a retry of the refused batch settles within 5 s");
      return settled as Awaited<typeof attempt>;
    }, 20_000);
    assert.equal(leader.replica.status().role, Role.Leader, "leadership stayed: the transfer was given up");
    assert.equal(written.count, 1);
    assert.ok(written.firstOffset > firstOffset);
    await waitUntil("the second batch to be committed here", () => leader.replica.committed.nextOffset > written.firstOffset);
    assert.equal(leader.replica.committed.read(written.firstOffset).value.toString(), "second");
    assert.deepEqual(await leader.replica.appendOnce([Buffer.from("second")], second), written, "sent once more, it is answered with its offsets");
  });
});
