// A full disk (issue 9, finding 5), on a small tmpfs: appends fail with RESOURCE_EXHAUSTED, the
// node's health says NOT_SERVING, and once space is freed writes resume by themselves and health
// says SERVING again; every acknowledged record is intact, before and after reopening. And a log
// left on a full tmpfs opens again, and a node starts on it with a new data directory, without the
// process dying of SIGBUS. A cluster member whose disk fills takes no part in Raft until space is
// free (its peers go on), and then rejoins and catches up without a restart.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { appendFile, mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { StorageFullError, RpcCode } from "../src/errors.ts";
import { FREE_SPACE_PROBE_EVERY_MS, Log } from "../src/storage/index.ts";
import { cleanup } from "./support/cleanup.ts";
import { startNode, stopNode } from "./support/node-process.ts";
import { freePort } from "./support/free-port.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { assertReplicasIntact } from "./support/replica-check.ts";
import { runCli } from "./support/run-cli.ts";
import { grpcTestClient, statusOf } from "./support/grpc-log-client.ts";
import { httpGet } from "./support/http-get.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { tempDir } from "./support/temp-dir.ts";
import { mountTmpfs } from "./support/tmpfs.ts";
import { waitUntilAsync } from "./support/wait-until.ts";

const MIB = 1024 * 1024;
const TMPFS_MIB = 20;
const SERVING = 1;
const NOT_SERVING = 2;

test("a full disk: RESOURCE_EXHAUSTED and NOT_SERVING, then writes resume by themselves once space is free, and nothing acknowledged is lost", { timeout: 120_000 }, async (t) => {
  const mountPoint = await tempDir(t);
  const refused = mountTmpfs(mountPoint, TMPFS_MIB);
  if (refused !== undefined) {
    t.skip(`cannot mount a ${TMPFS_MIB} MiB tmpfs here (needs root): ${refused}`);
    return;
  }
  cleanup(t, () => spawnSync("umount", [mountPoint]));
  const ballast = join(mountPoint, "ballast");
  await writeFile(ballast, randomBytes(4 * MIB));
  const dataDir = join(mountPoint, "data");
  const server = await startLogServer(t, { dataDir, log: { storeBytesMax: 2 * MIB, indexEntriesMax: 1 << 14 } });
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  const acknowledged = new Map<bigint, Buffer>();
  const produce = async (): Promise<grpc.ServiceError | undefined> => {
    const values = Array.from({ length: 16 }, () => randomBytes(16 * 1024));
    try {
      const { firstOffset } = await client.unary("produceBatch", { values });
      values.forEach((value, i) => acknowledged.set(BigInt(firstOffset) + BigInt(i), value));
      return undefined;
    } catch (error) {
      return error as grpc.ServiceError;
    }
  };

  let failure: grpc.ServiceError | undefined;
  for (let batch = 0; batch < 10 * TMPFS_MIB && failure === undefined; batch++) failure = await produce();
  assert.ok(failure !== undefined, "the tmpfs filled up");
  assert.equal(failure.code, grpc.status.RESOURCE_EXHAUSTED, `a full disk answers RESOURCE_EXHAUSTED, not ${failure.code}: ${failure.details}`);
  assert.equal(grpc.status.RESOURCE_EXHAUSTED, RpcCode.resourceExhausted);
  assert.equal(new StorageFullError("", 28).rpcCode, RpcCode.resourceExhausted);
  assert.ok(acknowledged.size > 0);
  await waitUntilAsync("health NOT_SERVING", async () => (await client.health.unary("check", { service: "" })).status === NOT_SERVING);
  assert.equal((await produce())?.code, grpc.status.RESOURCE_EXHAUSTED, "appends keep failing while the disk is full");
  assert.equal(server.storage!.writable, false);

  await rm(ballast);
  await waitUntilAsync("health SERVING once space is free", async () => (await client.health.unary("check", { service: "" })).status === SERVING);
  assert.equal(server.storage!.writable, true);
  assert.equal(await produce(), undefined, "writes resume by themselves");
  for (const [offset, value] of acknowledged) {
    const { record } = await client.unary("consume", { offset });
    assert.deepEqual(Buffer.from(record.value), value, `acknowledged record ${offset}`);
  }

  await server.close();
  const log = await Log.open(dataDir);
  cleanup(t, () => log.close());
  assert.equal(log.nextOffset, Number(Math.max(...[...acknowledged.keys()].map(Number))) + 1, "no record beyond the acknowledged ones survives");
  for (const [offset, value] of acknowledged) assert.deepEqual(log.read(offset).value, value, `record ${offset} after reopening`);
});

test("a log left on a full tmpfs opens again, and a node starts there with a new data directory, instead of dying of SIGBUS", async (t) => {
  const mountPoint = await tempDir(t);
  const refused = mountTmpfs(mountPoint, 16);
  if (refused !== undefined) {
    t.skip(`cannot mount a 16 MiB tmpfs here (needs root): ${refused}`);
    return;
  }
  cleanup(t, () => spawnSync("umount", [mountPoint]));
  const dataDir = join(mountPoint, "data");
  const records = 100_000;
  const log = await Log.open(dataDir);
  for (let i = 0; i < records / 1000; i++) await log.append(Array.from({ length: 1000 }, () => Buffer.from("x")));
  await log.close();
  // Fill what is left. The segment's index files are sparse past the entries written: opening
  // searches them for their end, and a read of a hole through a shared map must allocate a page,
  // which a full tmpfs answers with SIGBUS (the search of this open lands on pages the first never touched).
  const filler = join(mountPoint, "filler");
  await assert.rejects(async () => {
    for (;;) await appendFile(filler, Buffer.alloc(MIB));
  }, (error: NodeJS.ErrnoException) => error.code === "ENOSPC");
  const scrubbed = await runCli(["scrub", "--data-dir", dataDir]);
  assert.equal(scrubbed.code, 0, `scrub exited ${scrubbed.code}: ${scrubbed.stderr}`);
  const report = JSON.parse(scrubbed.stdout) as { nextOffset: number; damaged: unknown[]; recordsChecked: number };
  assert.deepEqual([report.nextOffset, report.damaged, report.recordsChecked], [records, [], records]);
  // A new log's segment files are holes from their first entry on: before, opening one on the full
  // disk read its first entry through the map and died.
  const node = await startNode(["--data-dir", join(mountPoint, "new"), "--listen", "127.0.0.1:0"]);
  cleanup(t, () => stopNode(node));
  const client = grpcTestClient(node.address);
  cleanup(t, () => client.close());
  assert.deepEqual(await client.unary("getOffsets", {}), { $typeName: "log.v1.GetOffsetsResponse", lowestOffset: 0n, endOffset: 0n });
});

// Full of bytes, a write fails; out of files, a new segment cannot be created, and the run of held
// appends being framed into it is refused before it is queued.
for (const [full, mib, files] of [["of bytes", 8, undefined], ["of files", 64, 12]] as const) {
  test(`appends held behind a write when the disk is full ${full} are each acknowledged or refused with StorageFullError, and only the acknowledged are kept`, async (t) => {
    const mountPoint = await tempDir(t);
    const refused = mountTmpfs(mountPoint, mib, files);
    if (refused !== undefined) {
      t.skip(`cannot mount a tmpfs here (needs root): ${refused}`);
      return;
    }
    cleanup(t, () => spawnSync("umount", [mountPoint]));
    const dataDir = join(mountPoint, "data");
    // Small segments, so that runs of held appends are also framed into new segments, some of which the full disk refuses.
    const log = await Log.open(dataDir, { storeBytesMax: 2 * MIB, indexEntriesMax: 1 << 12 });
    const acknowledged = new Map<number, Buffer>();
    let refusals = 0;
    for (let round = 0; round < 200 && refusals === 0; round++) {
      // 64 one-record appends: the first starts a write, the others, made once it is under way (a
      // microtask after the call), are held behind it and framed together when it ends.
      const values = Array.from({ length: 64 }, () => randomBytes(4096));
      const first = log.append([values[0]!]);
      await Promise.resolve();
      const results = await Promise.allSettled([first, ...values.slice(1).map((value) => log.append([value]))]);
      results.forEach((result, i) => {
        if (result.status === "fulfilled") {
          acknowledged.set(result.value, values[i]!);
        } else {
          assert.ok(result.reason instanceof StorageFullError, `a refusal is StorageFullError, not ${result.reason}`);
          refusals++;
        }
      });
    }
    assert.ok(refusals > 0, "the tmpfs filled up");
    assert.deepEqual([...acknowledged.keys()].sort((a, b) => a - b), Array.from({ length: acknowledged.size }, (_, i) => i), "the acknowledged records are the log's first offsets");
    assert.equal(log.nextOffset, acknowledged.size, "readers see only the acknowledged records");
    await log.close();
    const reopened = await Log.open(dataDir);
    cleanup(t, () => reopened.close());
    assert.equal(reopened.nextOffset, acknowledged.size, "no record beyond the acknowledged ones survives");
    for (const [offset, value] of acknowledged) assert.deepEqual(reopened.read(offset).value, value, `record ${offset} after reopening`);
  });
}

test("a cluster member whose disk fills stops taking part, the others go on taking writes, and once there is space it rejoins and catches up", { timeout: 120_000 }, async (t) => {
  const mountPoint = await tempDir(t);
  const refused = mountTmpfs(mountPoint, 24);
  if (refused !== undefined) {
    t.skip(`cannot mount a tmpfs here (needs root): ${refused}`);
    return;
  }
  cleanup(t, () => spawnSync("umount", [mountPoint]));
  const cluster = new ProcessCluster(await tempDir(t));
  cleanup(t, () => cluster.stopAll());
  await cluster.form(2);
  const config = join(mountPoint, "config.json");
  await writeFile(config, JSON.stringify({ log: { storeBytesMax: 2 * MIB, indexEntriesMax: 1 << 12 } }));
  const third = await startNode(["--data-dir", join(mountPoint, "data"), "--listen", `127.0.0.1:${await freePort()}`, "--node-id", "3", "--join", cluster.address(1), "--config", config]);
  cleanup(t, () => stopNode(third));
  const client = cluster.client(1);
  let exited: number | string | undefined;
  void third.exited.then((code) => (exited = code));
  const saidFull = (): boolean => third.lines.some((line) => line.level === "error" && /disk is full/.test(String(line.msg)));
  // Each batch is acknowledged by nodes 1 and 2 whatever the third does.
  for (let batch = 0; batch < 400 && !saidFull() && exited === undefined; batch++) await client.produceBatch(Array.from({ length: 32 }, () => randomBytes(2048)));
  assert.ok(saidFull(), "the full member says so in its log");
  const readyz = (): Promise<{ status: number; body: string }> => httpGet(`http://${third.address}/readyz`);
  await waitUntilAsync("the full member is not ready, and says why", async () => {
    const answer = await readyz();
    return answer.status === 503 && /disk is full/.test(answer.body);
  }, 10_000);
  // While the disk stays full (several of its probes for space), the member stays out, and the others take writes.
  const rejoined = (): boolean => third.lines.some((line) => /rejoins the cluster/.test(String(line.msg)));
  for (const until = performance.now() + 8 * FREE_SPACE_PROBE_EVERY_MS; performance.now() < until; ) {
    await client.produceBatch(Array.from({ length: 8 }, () => randomBytes(2048)));
    assert.equal((await readyz()).status, 503, "not ready while its disk is full");
    assert.ok(!rejoined(), "it does not rejoin while its disk is full");
  }
  const whileFull = await client.produce(Buffer.from("written while the third's disk was full"));
  assert.equal(Buffer.from((await client.read(whileFull)).value).toString(), "written while the third's disk was full");
  const thirdClient = grpcTestClient(third.address);
  cleanup(t, () => thirdClient.close());
  // A reader waiting at the member's end is told it is unavailable, rather than left waiting on a replica that stopped.
  const tail = await statusOf(thirdClient.serverStream("consumeStream", { offset: whileFull + 1n }));
  assert.equal(tail.code, grpc.status.UNAVAILABLE, `a tail read on the full member: ${tail.details}`);

  // Space comes back (the volume grows): the member rejoins by itself and catches up.
  const grown = spawnSync("mount", ["-o", "remount,size=256m", mountPoint], { encoding: "utf8" });
  assert.equal(grown.status, 0, `remount: ${grown.stderr}`);
  const readOnThird = async (offset: bigint): Promise<string | undefined> => {
    try {
      const { record } = await thirdClient.unary("consume", { offset });
      return Buffer.from(record.value).toString();
    } catch {
      return undefined;
    }
  };
  await waitUntilAsync("the member is ready again and holds the record written while it was full", async () => (await readyz()).status === 200 && (await readOnThird(whileFull)) !== undefined, 60_000);
  assert.equal(await readOnThird(whileFull), "written while the third's disk was full");
  assert.equal(exited, undefined, "the member never stopped");
  assert.ok(rejoined(), "its log says it rejoined");
  // The records around the time its disk filled are the same on the member as on the first node.
  const firstClient = grpcTestClient(cluster.address(1));
  cleanup(t, () => firstClient.close());
  const range = { offset: whileFull - 300n, maxRecords: 301 };
  const onFirst = await firstClient.unary("consumeBatch", range);
  const onThird = await thirdClient.unary("consumeBatch", range);
  assert.equal(onThird.records.length, 301);
  assert.deepEqual(onThird.records, onFirst.records, "the member holds the same records as the first node");
  // It takes part again: what is acknowledged now reaches it too.
  const afterwards = await client.produce(Buffer.from("after space came back"));
  await waitUntilAsync("the record written after the space came back reaches the member", async () => (await readOnThird(afterwards)) === "after space came back", 30_000);
});

test("the leader's disk fills under load: another member leads, nothing acknowledged is lost, and once there is space the old leader rejoins with the same records", { timeout: 120_000 }, async (t) => {
  const root = await tempDir(t);
  const config = join(root, "config.json");
  await writeFile(config, JSON.stringify({ log: { storeBytesMax: 2 * MIB, indexEntriesMax: 1 << 12 } }));
  const cluster = new ProcessCluster(root, undefined, ["--config", config]);
  await mkdir(cluster.dataDir(1));
  const refused = mountTmpfs(cluster.dataDir(1), 24);
  if (refused !== undefined) {
    t.skip(`cannot mount a tmpfs here (needs root): ${refused}`);
    return;
  }
  cleanup(t, () => spawnSync("umount", [cluster.dataDir(1)]));
  cleanup(t, () => cluster.stopAll());
  await cluster.form(3);
  assert.equal(await cluster.leader(), 1, "the node on the small disk leads");
  const acknowledged = new Map<number, string>();
  // Through node 3, which forwards to whoever leads. A batch that fails is not retried (its outcome
  // may be unknown): only acknowledged batches are counted, and nothing may be stored twice.
  const produce = async (): Promise<void> => {
    const values = Array.from({ length: 32 }, () => randomBytes(2048));
    try {
      const first = Number(await cluster.client(3).produceBatch(values));
      values.forEach((value, i) => acknowledged.set(first + i, value.toString("hex")));
    } catch {
      // Refused or cut off while the leadership moves.
    }
  };
  const saidFull = (): boolean => cluster.lines(1).some((line) => /disk is full/.test(String(line.msg)));
  for (let batch = 0; batch < 600 && !saidFull(); batch++) await produce();
  assert.ok(saidFull(), "the leader says its disk is full");
  const leaderSeenBy2 = async (): Promise<number> => Number((await cluster.client(2).servers().catch(() => [])).find((server) => server.isLeader)?.id ?? 0);
  await waitUntilAsync("another member leads", async () => ![0, 1].includes(await leaderSeenBy2()), 20_000);
  const before = acknowledged.size;
  for (let batch = 0; batch < 10; batch++) await produce();
  assert.ok(acknowledged.size > before, "writes are acknowledged while the first node's disk is full");

  const grown = spawnSync("mount", ["-o", "remount,size=256m", cluster.dataDir(1)], { encoding: "utf8" });
  assert.equal(grown.status, 0, `remount: ${grown.stderr}`);
  const held = await cluster.converged([1, 2, 3], acknowledged, 60_000);
  assertReplicasIntact(acknowledged, held);
  assert.deepEqual(held.get(1), held.get(2), "the old leader serves exactly what node 2 does");
  assert.ok(cluster.isRunning(1), "the old leader never stopped");
  t.diagnostic(`${acknowledged.size} records acknowledged; ${held.get(1)!.length} records on each node`);
});
