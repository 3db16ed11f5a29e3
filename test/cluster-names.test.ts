// Node names and identity with real `loghouse serve` processes: nodes named n-a, n-b, n-c form a
// cluster by name and `status` shows the names; a follower whose data directory is deleted comes
// back under its name with a new Raft id and becomes a voter again with no command typed (the
// leader removes its old Raft id and adds the new one: admission.ts), holding every acknowledged
// record; `transfer-leader` and `leave` take names; numeric names still work; a name outside the
// rule is refused with one line (exit 2 for the flag, a usage error; exit 1 for the environment
// variable, a configuration error).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { LoghouseClient } from "../src/client/client.ts";
import { RaftStateFile } from "../src/cluster/raft-state-file.ts";
import { cleanup } from "./support/cleanup.ts";
import { freePort } from "./support/free-port.ts";
import { startNode, stopNode, type NodeProcess } from "./support/node-process.ts";
import { runCli } from "./support/run-cli.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";

const NAMES = ["n-a", "n-b", "n-c"] as const;

/** Named nodes in one root directory, each on a fixed port, started and stopped by name. */
class NamedCluster {
  private readonly processes = new Map<string, NodeProcess>();
  private readonly clients = new Map<string, LoghouseClient>();

  constructor(
    private readonly t: TestContext,
    private readonly root: string,
    private readonly ports: ReadonlyMap<string, number>,
  ) {}

  static async make(t: TestContext, names: readonly string[]): Promise<NamedCluster> {
    const ports = new Map<string, number>();
    for (const name of names) ports.set(name, await freePort());
    return new NamedCluster(t, await tempDir(t), ports);
  }

  address(name: string): string {
    return `127.0.0.1:${this.ports.get(name)}`;
  }

  dataDir(name: string): string {
    return join(this.root, name);
  }

  async start(name: string, ...extra: string[]): Promise<NodeProcess> {
    const node = await startNode(["--data-dir", this.dataDir(name), "--listen", this.address(name), "--node-id", name, "--log-level", "info", ...extra]);
    cleanup(this.t, () => stopNode(node));
    this.processes.set(name, node);
    return node;
  }

  async stop(name: string): Promise<void> {
    const node = this.processes.get(name)!;
    node.child.kill("SIGTERM");
    await node.exited;
    this.processes.delete(name);
  }

  /** The JSON lines node `name` printed so far. */
  lines(name: string): NodeProcess["lines"] {
    return this.processes.get(name)!.lines;
  }

  client(name: string): LoghouseClient {
    let client = this.clients.get(name);
    if (client === undefined) {
      client = new LoghouseClient(this.address(name));
      this.clients.set(name, client);
      cleanup(this.t, () => client!.close());
    }
    return client;
  }

  /** Waits until node `name` reports exactly these voters (by name) and no learner; returns the leader's name. */
  async votersAre(name: string, voters: readonly string[], timeoutMs = 30_000): Promise<string> {
    return waitUntilAsync(`${name} to report voters ${voters.join(", ")}`, async () => {
      const servers = await this.client(name).servers().catch(() => []);
      const ids = servers.filter((server) => server.isVoter).map((server) => server.id).sort();
      const leader = servers.find((server) => server.isLeader)?.id;
      return servers.length === voters.length && ids.join() === [...voters].sort().join() && leader;
    }, timeoutMs);
  }

  /** The Raft id node `name`'s data directory drew (read from its state file). */
  async raftId(name: string): Promise<number> {
    const state = JSON.parse(await readFile(join(this.dataDir(name), "raft-state.json"), "utf8")) as { nodeId: number };
    return state.nodeId;
  }

  /** Every data record node `name` holds (not Raft's own), as hex, in offset order. */
  async records(name: string): Promise<string[]> {
    const values: string[] = [];
    for await (const record of this.client(name).consume({ from: "start" })) if (record.type === 0) values.push(Buffer.from(record.value).toString("hex"));
    return values;
  }
}

test("named nodes join by name; one that lost its data directory is admitted afresh under a new Raft id", async (t) => {
  const cluster = await NamedCluster.make(t, NAMES);
  await cluster.start("n-a", "--bootstrap");
  // n-b joins through n-a, n-c through n-b (a follower, which redirects it to the leader).
  await cluster.start("n-b", "--join", cluster.address("n-a"));
  await cluster.start("n-c", "--join", cluster.address("n-b"));
  const leader = await cluster.votersAre("n-a", NAMES);

  const status = await runCli(["status", "--server", cluster.address("n-c")]);
  assert.equal(status.code, 0, status.stderr);
  for (const name of NAMES) assert.match(status.stdout, new RegExp(`\\b${name}\\b`), `status shows ${name}`);

  const acknowledged: string[] = [];
  const produce = async (count: number): Promise<void> => {
    const values = Array.from({ length: count }, () => randomBytes(12));
    await cluster.client(leader).produceBatch(values);
    acknowledged.push(...values.map((value) => value.toString("hex")));
  };
  await produce(50);

  // A follower loses its disk and comes back with the same name: no leave, no command.
  const lost = NAMES.find((name) => name !== leader)!;
  const oldRaftId = await cluster.raftId(lost);
  await cluster.stop(lost);
  await rm(cluster.dataDir(lost), { recursive: true, force: true });
  await produce(50);
  await cluster.start(lost, "--join", cluster.address(NAMES.find((name) => name !== lost)!));
  await cluster.votersAre(leader, NAMES);
  const newRaftId = await cluster.raftId(lost);
  assert.notEqual(newRaftId, oldRaftId, "a new data directory draws a new Raft id");

  // GetServers lists three members, the name once: the old Raft id left the configuration. The
  // leader said why it removed it.
  const leaderNode = await cluster.votersAre(lost, NAMES);
  assert.equal(leaderNode, leader);
  await produce(10);
  await waitUntilAsync(`${lost} to hold every acknowledged record`, async () => (await cluster.records(lost).catch(() => [])).length >= acknowledged.length, 30_000);
  assert.deepEqual(await cluster.records(lost), acknowledged);
  const leaderLines = cluster.lines(leader).filter((line) => line.msg === "admitting a joining node");
  assert.ok(leaderLines.some((line) => line.name === lost && String(line.reason).includes(`Raft id ${oldRaftId}`)), "the leader logged the removal of the old Raft id with its reason");

  // A member restarted with --join (as the Helm chart starts every pod but the first) stays as it is.
  const third = NAMES.find((name) => name !== lost && name !== leader)!;
  const thirdRaftId = await cluster.raftId(third);
  await cluster.stop(third);
  const linesBefore = cluster.lines(leader).length;
  await cluster.start(third, "--join", cluster.address(leader));
  await waitUntilAsync(`the leader to answer ${third}'s join`, async () =>
    cluster.lines(leader).slice(linesBefore).some((line) => line.msg === "join admitted" && line.name === third && line.reason === `${third} (Raft id ${thirdRaftId}) is a member`),
  );
  await produce(10);
  await cluster.votersAre(third, NAMES);
  assert.equal(await cluster.raftId(third), thirdRaftId);

  // Operators name members too: the leadership moves to the rejoined node, then the old leader leaves.
  const moved = await runCli(["transfer-leader", "--server", cluster.address(leader), "--to", lost]);
  assert.equal(moved.code, 0, moved.stderr);
  assert.deepEqual(JSON.parse(moved.stdout), { transferredTo: lost });
  const left = await runCli(["leave", "--server", cluster.address(lost), "--node-id", leader]);
  assert.equal(left.code, 0, left.stderr);
  assert.deepEqual(JSON.parse(left.stdout), { left: leader });
  assert.equal(await cluster.votersAre(lost, NAMES.filter((name) => name !== leader)), lost);
});

test("a numeric name still works; a name outside the rule is refused with exit 2 and one clear line", async (t) => {
  const cluster = await NamedCluster.make(t, ["7"]);
  await cluster.start("7", "--bootstrap");
  await cluster.votersAre("7", ["7"]);

  const dir = await tempDir(t);
  const invalid = ["n a", "n/a", "", "x".repeat(64), "n@a"];
  for (const name of invalid) {
    const refused = await runCli(["serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--advertise", "127.0.0.1:9", "--node-id", name, "--bootstrap"]);
    assert.equal(refused.code, 2, `--node-id ${JSON.stringify(name)}: ${refused.stderr}`);
    const lines = refused.stderr.trim().split("\n");
    assert.equal(lines.length, 1, refused.stderr);
    assert.match(lines[0]!, name === "" ? /--node-id is empty/ : /--node-id must be a node name, letters, digits, '-', '_' and '\.', 1 to 63 characters/);
  }
  // From the environment it is a configuration error (exit 1), named as such.
  const fromEnv = await runCli(["serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--advertise", "127.0.0.1:9", "--bootstrap"], { env: { LOGHOUSE_NODE_ID: "bad name" } });
  assert.equal(fromEnv.code, 1, fromEnv.stderr);
  assert.match(fromEnv.stderr, /INVALID_CONFIG: LOGHOUSE_NODE_ID must be a node name/);
});

test("a member's data directory started under another name is refused: it would have evicted the member of that name", async (t) => {
  const cluster = await NamedCluster.make(t, ["n-a"]);
  await cluster.start("n-a", "--bootstrap");
  await cluster.votersAre("n-a", ["n-a"]);
  await cluster.stop("n-a");
  const renamed = await runCli(["serve", "--data-dir", cluster.dataDir("n-a"), "--listen", cluster.address("n-a"), "--node-id", "n-b"]);
  assert.equal(renamed.code, 1, renamed.stderr);
  assert.match(renamed.stderr, /^loghouse: INVALID_CONFIG: .* belongs to node n-a, not n-b: start it with --node-id n-a, or give n-b a new data directory\n$/);
});

test("a data directory whose node asked to join and was never admitted is refused without --join, and with --bootstrap", async (t) => {
  // What a first join that failed leaves: the state written before the join, no start point, no member but itself.
  const dir = join(await tempDir(t), "never-joined");
  const port = await freePort();
  const stateFile = await RaftStateFile.open(join(dir, "raft-state.json"), {
    nodeId: 77,
    snapshot: { index: 0, term: 0, membership: { voters: [], learners: [] } },
    addresses: { 77: `127.0.0.1:${port}` },
    names: { 77: "n-x" },
  });
  await mkdir(dir, { recursive: true });
  await stateFile.update({});
  await stateFile.close();
  // Before: without --join it served as SERVING with no members and no leader, for good; --bootstrap was ignored.
  for (const extra of [[], ["--bootstrap"]]) {
    const refused = await runCli(["serve", "--data-dir", dir, "--listen", `127.0.0.1:${port}`, "--node-id", "n-x", ...extra]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^loghouse: INVALID_CONFIG: .* holds a node that asked to join a cluster and may never have been admitted \(it kept no answer\): start it with --join MEMBER/);
  }
});
