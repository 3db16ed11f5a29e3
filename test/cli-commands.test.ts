// The `loghouse` command as a user runs it: serve (flags, environment, config file, defaults),
// produce from stdin and files, consume (once and following the tail), status, and its errors.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { BIN, startNode, stopNode, type NodeProcess } from "./support/node-process.ts";
import { runCli } from "./support/run-cli.ts";
import { tempDir } from "./support/temp-dir.ts";
import { cleanup } from "./support/cleanup.ts";
import { freePort } from "./support/free-port.ts";

async function node(t: import("node:test").TestContext, args: readonly string[] = [], env: NodeJS.ProcessEnv = {}, cwd?: string): Promise<NodeProcess> {
  const dir = await tempDir(t);
  const started = await startNode(args.includes("--data-dir") ? args : ["--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0", ...args], env, cwd);
  cleanup(t, () => stopNode(started));
  return started;
}

test("produce, consume and status round trip through the command line", async (t) => {
  const server = await node(t);
  const dir = await tempDir(t);
  const file = join(dir, "more.txt");
  await writeFile(file, "four\nfive\n");
  const fromStdin = await runCli(["produce", "--server", server.address], { input: "one\ntwo\nthree\n" });
  assert.equal(fromStdin.code, 0, fromStdin.stderr);
  // Each batch is exactly-once: its mark (a type-3 record, which text output skips) comes first.
  assert.deepEqual(JSON.parse(fromStdin.stdout), { records: 3, firstOffset: "1", lastOffset: "3" });
  const fromFile = await runCli(["produce", file], { env: { LOGHOUSE_SERVER: server.address } });
  assert.deepEqual(JSON.parse(fromFile.stdout), { records: 2, firstOffset: "5", lastOffset: "6" });

  const text = await runCli(["consume", "--server", server.address, "--from", "2"]);
  assert.equal(text.stdout, "two\nthree\nfour\nfive\n");
  const mark = JSON.parse((await runCli(["consume", "--server", server.address, "--format", "json", "--count", "1"])).stdout);
  assert.deepEqual([mark.offset, mark.type], ["0", 3]);
  const json = await runCli(["consume", "--server", server.address, "--format", "json", "--from", "1", "--count", "1"]);
  const record = JSON.parse(json.stdout);
  assert.equal(record.offset, "1");
  assert.equal(record.value, "one");
  assert.ok(record.timestampMs > 0);

  const status = await runCli(["status", "--server", server.address]);
  assert.equal(status.code, 0);
  assert.deepEqual(JSON.parse(status.stdout), {
    server: server.address,
    health: "SERVING",
    // A node alone belongs to no cluster.
    clusterId: null,
    // And leads itself.
    leader: "loghouse-0",
    servers: [{ id: "loghouse-0", rpcAddr: server.address, isLeader: true, role: "voter", liveness: "alive", term: "0", lag: "0" }],
    lowestOffset: "0",
    endOffset: "7",
  });

  // Cluster operations against a node alone say why they cannot be done, in one line.
  for (const args of [["leave", "--node-id", "loghouse-0"], ["transfer-leader", "--to", "loghouse-1"]]) {
    const refused = await runCli([...args, "--server", server.address]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /^loghouse: NOT_CLUSTERED: this node runs alone/);
    assert.equal(refused.stderr.trim().split("\n").length, 1, refused.stderr);
  }
});

test("serve --join through a node that runs alone stops at once, saying so", async (t) => {
  const alone = await node(t);
  const dir = await tempDir(t);
  const started = performance.now();
  const joining = await runCli(["serve", "--data-dir", join(dir, "data"), "--listen", `127.0.0.1:${await freePort()}`, "--node-id", "two", "--join", alone.address]);
  assert.equal(joining.code, 1, joining.stderr);
  assert.match(joining.stderr, new RegExp(`INVALID_CONFIG: ${alone.address} runs alone, not as a member of a cluster: --join takes a member's address`));
  // Before, it asked 50 times over about a minute and then said only that the node did not answer.
  // Now it is the gossip join's 10 s wait for an answer (a node alone does not gossip), then one ask.
  assert.ok(performance.now() - started < 40_000, `took ${Math.round(performance.now() - started)} ms`);
});

test("consume --follow prints new records as they arrive and stops on SIGINT", async (t) => {
  const server = await node(t);
  await runCli(["produce", "--server", server.address], { input: "before\n" });
  const child = spawn(BIN, ["consume", "--server", server.address, "--follow"]);
  let stdout = "";
  const seen = (text: string): Promise<void> =>
    new Promise((resolve) => {
      const check = (): void => {
        if (!stdout.includes(text)) return;
        child.stdout.off("data", check);
        resolve();
      };
      child.stdout.on("data", check);
      check();
    });
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("close", resolve));
  await seen("before\n");
  await runCli(["produce", "--server", server.address], { input: "after\n" });
  await seen("after\n");
  child.kill("SIGINT");
  assert.equal(await exited, 0);
  assert.equal(stdout, "before\nafter\n");
});

test("serve takes flags over environment over config file, and defaults to ./data", async (t) => {
  const dir = await tempDir(t);
  const config = join(dir, "loghouse.json");
  await writeFile(config, JSON.stringify({ dataDir: join(dir, "from-file"), nodeId: "file-node", listen: "127.0.0.1:1", limits: { recordBytesMax: 2048 } }));
  const fromAll = await node(t, ["--config", config, "--data-dir", join(dir, "from-flag"), "--listen", "127.0.0.1:0"], { LOGHOUSE_DATA_DIR: join(dir, "from-env"), LOGHOUSE_NODE_ID: "env-node" });
  const listening = fromAll.lines.find((line) => line.msg === "listening")!;
  assert.equal(listening.dataDir, join(dir, "from-flag"));
  const status = JSON.parse((await runCli(["status", "--server", fromAll.address])).stdout);
  assert.equal(status.servers[0].id, "env-node");
  const tooLarge = await runCli(["produce", "--server", fromAll.address], { input: `${"x".repeat(3000)}\n` });
  assert.equal(tooLarge.code, 1);
  assert.match(tooLarge.stderr, /RECORD_TOO_LARGE/);

  const cwd = await tempDir(t);
  const defaults = await node(t, ["--listen", "127.0.0.1:0", "--data-dir", "data"], {}, cwd);
  assert.equal(defaults.lines.find((line) => line.msg === "listening")!.dataDir, join(cwd, "data"));
  const implicit = await startNode([], { LOGHOUSE_LISTEN: "127.0.0.1:0" }, await tempDir(t));
  cleanup(t, () => stopNode(implicit));
  assert.match(String(implicit.lines.find((line) => line.msg === "listening")!.dataDir), /\/data$/);
  assert.ok(existsSync(String(implicit.lines.find((line) => line.msg === "listening")!.dataDir)));
});

test("bad settings and bad commands fail with a precise message and a non-zero exit", async (t) => {
  const dir = await tempDir(t);
  const badLimit = await runCli(["serve", "--data-dir", join(dir, "a"), "--listen", "127.0.0.1:0"], {
    env: { LOGHOUSE_CONFIG: join(dir, "missing.json") },
  });
  assert.equal(badLimit.code, 1);
  assert.match(badLimit.stderr, /INVALID_CONFIG.*cannot read config file/);
  const badListen = await runCli(["serve", "--data-dir", join(dir, "b"), "--listen", "nowhere"]);
  assert.match(badListen.stderr, /listen must be HOST:PORT/);
  const cluster = await runCli(["serve", "--data-dir", join(dir, "c"), "--bootstrap"]);
  assert.match(cluster.stderr, /needs --node-id/);
  const badRetention = await runCli(["serve", "--data-dir", join(dir, "d"), "--listen", "127.0.0.1:0", "--retention-bytes", "1e9"]);
  assert.match(badRetention.stderr, /retention-bytes must be a whole number/);
  const clusterRetention = await runCli(["serve", "--data-dir", join(dir, "e"), "--listen", "127.0.0.1:0", "--advertise", "127.0.0.1:9", "--node-id", "1", "--bootstrap", "--retention-ms", "60000"]);
  assert.equal(clusterRetention.code, 1);
  assert.match(clusterRetention.stderr, /retention is not supported in a cluster yet/);
  assert.equal((await runCli(["frobnicate"])).code, 2);
  assert.equal((await runCli(["consume", "--listen", "x:1"])).code, 2);
  const unreachable = await runCli(["consume", "--server", "127.0.0.1:1", "--from", "0"]);
  assert.equal(unreachable.code, 1);
  assert.equal(unreachable.stderr, "loghouse: UNAVAILABLE: cannot reach the node (connect ECONNREFUSED 127.0.0.1:1)\n");
});

test("a second node on the same data directory is refused while the first runs", async (t) => {
  const dir = await tempDir(t);
  await node(t, ["--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0"]);
  const second = await runCli(["serve", "--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0"]);
  assert.equal(second.code, 1);
  assert.match(second.stderr, /LOG_LOCKED/);
});
