// Repair of a damaged record on one member, in process, with the peers it repairs from down at
// first: the member keeps running, reports NOT_SERVING, answers DATA_LOSS for exactly the damaged
// records and serves the rest; once a peer is back it repairs, serves again, and holds exactly what
// the others hold.
import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { ClusterNode } from "../src/cluster/cluster-node.ts";
import { RaftTransport } from "../src/cluster/raft-transport.ts";
import { ReplicatedLog } from "../src/cluster/replicated-log.ts";
import { DataLossError } from "../src/errors.ts";
import type { Logger } from "../src/logger.ts";
import { Log, type LogConfig, type LogRecord } from "../src/storage/index.ts";
import { cleanup } from "./support/cleanup.ts";
import { freePort } from "./support/free-port.ts";
import { flipByte } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntil } from "./support/wait-until.ts";

const noForwarding = (): Promise<number> => Promise.reject(new Error("not used"));

function recordingLogger(lines: string[]): Logger {
  const record = (msg: string): void => void lines.push(msg);
  return { debug: () => undefined, info: record, warn: record, error: record };
}

function describe(record: LogRecord): string {
  return `${record.offset}:${record.term}:${record.type}:${record.timestampMs}:${record.value.toString("hex")}`;
}

/** Every committed record of `node`, from offset 1 (a cluster's first record). */
function committed(node: ClusterNode): string[] {
  const view = node.replica.committed;
  return view.readRange(1, { bytesMax: 1 << 24 }).map(describe);
}

/** Three ClusterNodes on loopback with segments of 100 records; node 3 logs into `lines`. */
class ThreeNodes {
  readonly nodes = new Map<number, ClusterNode>();
  /** The Raft id each node's data directory drew, by the node's number (its name). */
  readonly raftIds = new Map<number, number>();
  readonly lines: string[] = [];

  private constructor(
    private readonly root: string,
    private readonly ports: ReadonlyMap<number, number>,
    private readonly log: Partial<LogConfig>,
  ) {}

  /** Forms the cluster and commits 500 records on every node; returns the leader's records. */
  static async form(t: TestContext, log: Partial<LogConfig> = {}): Promise<{ cluster: ThreeNodes; expected: string[]; end: number }> {
    const cluster = new ThreeNodes(await tempDir(t), new Map([[1, await freePort()], [2, await freePort()], [3, await freePort()]]), { indexEntriesMax: 100, ...log });
    cleanup(t, async () => {
      for (const node of cluster.nodes.values()) await node.close();
    });
    const first = await cluster.open(1, true);
    await waitUntil("node 1 to lead", () => first.replica.isLeader);
    await (await cluster.open(2)).joinCluster(cluster.address(1));
    await (await cluster.open(3)).joinCluster(cluster.address(1));
    await waitUntil("three voters", () => first.replica.status().membership.voters.length === 3, 20_000);
    for (let round = 0; round < 5; round++) await first.replica.propose(Array.from({ length: 100 }, (_, i) => Buffer.from(`r${round}-${i}`)));
    const end = first.replica.committed.nextOffset;
    await waitUntil("every node to commit everything", () => [...cluster.nodes.values()].every((node) => node.replica.committed.nextOffset === end));
    return { cluster, expected: committed(first), end };
  }

  dataDir(id: number): string {
    return join(this.root, `node-${id}`);
  }

  address(id: number): string {
    return `127.0.0.1:${this.ports.get(id)}`;
  }

  async open(id: number, bootstrap = false): Promise<ClusterNode> {
    const node = await ClusterNode.open({
      dataDir: this.dataDir(id),
      name: String(id),
      address: this.address(id),
      bootstrap,
      tickMs: 10,
      promoteEveryMs: 20,
      log: this.log,
      ...(id === 3 ? { logger: recordingLogger(this.lines) } : {}),
    });
    await node.listen("127.0.0.1", this.ports.get(id)!);
    this.nodes.set(id, node);
    this.raftIds.set(id, node.nodeId);
    return node;
  }

  async close(id: number): Promise<void> {
    await this.nodes.get(id)!.close();
    this.nodes.delete(id);
  }

  /** Flips a byte in the middle of the store of node 3's third segment (sealed). */
  async damageNode3(): Promise<void> {
    const logDir = join(this.root, "node-3", "log");
    const stores = (await readdir(logDir)).filter((name) => name.endsWith(".store")).sort();
    const damagedStore = join(logDir, stores[2]!);
    await flipByte(damagedStore, Math.floor((await stat(damagedStore)).size / 2));
  }
}

test("a member with a damaged record serves DATA_LOSS for it and NOT_SERVING until a peer is back to repair from", async (t) => {
  const { cluster, expected, end } = await ThreeNodes.form(t);
  const lines = cluster.lines;
  for (const id of [3, 2, 1]) await cluster.close(id);
  await cluster.damageNode3();

  const damagedNode = await cluster.open(3);
  const serving: boolean[] = [];
  damagedNode.onServingChange((now) => serving.push(now));
  await waitUntil("node 3 to find the damage", () => damagedNode.log.damagedRanges.length > 0);
  assert.deepEqual(serving, [false], "NOT_SERVING while damaged");
  assert.ok(lines.includes("damaged records found: fetching them again from the peers"));
  const [range] = damagedNode.log.damagedRanges;
  const served = new ReplicatedLog(damagedNode, noForwarding);
  assert.throws(() => served.read(range!.firstOffset), DataLossError, "the damaged record is not served");
  assert.equal(describe(served.read(range!.endOffset)), expected[range!.endOffset - 1], "the record after it is served");
  assert.deepEqual(served.readRange(1, { countMax: range!.firstOffset - 1 }).map(describe), expected.slice(0, range!.firstOffset - 1), "records before it are served");

  await cluster.open(2);
  await waitUntil("node 3 to repair and serve again", () => serving.length === 2, 20_000);
  assert.deepEqual(serving, [false, true]);
  assert.ok(lines.includes("log repaired from the peers: Raft restarts"));
  await cluster.open(1);
  await waitUntil("node 3 to hold everything again", () => damagedNode.replica.committed.nextOffset >= end, 20_000);
  assert.deepEqual(committed(damagedNode).slice(0, expected.length), expected, "node 3 holds exactly what the leader held");
});

test("damage the background scrub finds on a running member is repaired the same way", async (t) => {
  const { cluster, expected } = await ThreeNodes.form(t, { scrubBytesPerSecond: 64 << 20, scrubIntervalMs: 100 });
  const node = cluster.nodes.get(3)!;
  const serving: boolean[] = [];
  node.onServingChange((now) => serving.push(now));
  await cluster.damageNode3();
  await waitUntil("node 3 to find the damage and repair it", () => serving.length === 2, 10_000);
  assert.deepEqual(serving, [false, true]);
  assert.ok(cluster.lines.includes("damaged records found: fetching them again from the peers"));
  assert.deepEqual(committed(node).slice(0, expected.length), expected, "node 3 holds exactly what the leader holds");
});

test("damage a reader meets on a running member is answered DATA_LOSS and repaired from the peers", async (t) => {
  const { cluster, expected } = await ThreeNodes.form(t);
  const node = cluster.nodes.get(3)!;
  const serving: boolean[] = [];
  node.onServingChange((now) => serving.push(now));
  await cluster.damageNode3();
  const served = new ReplicatedLog(node, noForwarding);
  // A consumer reading from the start, as far as it can.
  const consume = (): void => {
    for (let at = 1; at < expected.length + 1; ) at += served.readRange(at, { bytesMax: 1 << 24 }).length;
  };
  assert.throws(consume, DataLossError);
  await waitUntil("node 3 to repair what the reader met", () => serving.length === 2, 10_000);
  assert.deepEqual(serving, [false, true]);
  assert.deepEqual(served.readRange(1, { bytesMax: 1 << 24 }).map(describe).slice(0, expected.length), expected);
});

test("records from a peer that fail their checksums are never put in place; an honest peer's are", async (t) => {
  const { cluster, expected, end } = await ThreeNodes.form(t);
  for (const id of [3, 2, 1]) await cluster.close(id);
  await cluster.damageNode3();
  // In node 2's place, a peer that answers from node 2's log with one byte of every answer flipped.
  const source = await Log.open(join(cluster.dataDir(2), "log"), { indexEntriesMax: 100 });
  cleanup(t, () => source.close());
  let lies = 0;
  const [raftId2, raftId3] = [cluster.raftIds.get(2)!, cluster.raftIds.get(3)!];
  const liar: RaftTransport = new RaftTransport({
    nodeId: raftId2,
    onMessage: () => undefined,
    onRepairMessage: (message) => {
      if (message.type !== "repair-request") return;
      const frames = Buffer.from(source.readFrames(message.low, { countMax: message.high - message.low }).frames);
      frames[frames.length - 1]! ^= 0x01;
      lies++;
      liar.sendRepair({ type: "repair-response", from: raftId2, to: raftId3, low: message.low, frames });
    },
  });
  cleanup(t, () => liar.close());
  liar.setPeer(raftId3, cluster.address(3));
  await liar.listen("127.0.0.1", Number(cluster.address(2).split(":")[1]));

  const node = await cluster.open(3);
  const serving: boolean[] = [];
  node.onServingChange((now) => serving.push(now));
  await waitUntil("node 3 to refuse a lying peer's records", () => cluster.lines.includes("a peer's repair records failed verification"), 10_000);
  assert.ok(lies > 0);
  assert.deepEqual(serving, [false], "still repairing");
  assert.ok(node.log.damagedRanges.length > 0, "nothing was put in place");

  await liar.close();
  await source.close();
  await cluster.open(2);
  await waitUntil("node 3 to repair from the honest peer", () => serving.length === 2, 20_000);
  await cluster.open(1);
  await waitUntil("node 3 to hold everything again", () => node.replica.committed.nextOffset >= end, 20_000);
  assert.deepEqual(committed(node).slice(0, expected.length), expected);
});
