// The Raft state file: durable updates, the commit index written in the background without holding
// up the log, and nothing written once closed.
import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { RaftStateFile } from "../src/cluster/raft-state-file.ts";
import { DataLossError, LogClosedError } from "../src/errors.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntilAsync } from "./support/wait-until.ts";

const start = { snapshot: { index: 1, term: 1, membership: { voters: [1], learners: [] } }, addresses: {} };

async function committedOnDisk(path: string): Promise<number> {
  return (JSON.parse(await readFile(path, "utf8")) as { hardState: { commit: number } }).hardState.commit;
}

test("a durable update is on disk when it resolves, and a reopened file reads it back", async (t) => {
  const path = join(await tempDir(t), "raft-state.json");
  const file = await RaftStateFile.open(path, start);
  assert.equal(file.existed, false);
  await file.update({ hardState: { term: 3, vote: 2, commit: 4 } });
  await file.close();
  const reopened = await RaftStateFile.open(path, start);
  assert.equal(reopened.existed, true);
  assert.deepEqual(reopened.state.hardState, { term: 3, vote: 2, commit: 4 });
});

test("updates that merge into the stored members, called before the one ahead is written, keep each other's members", async (t) => {
  const path = join(await tempDir(t), "raft-state.json");
  const file = await RaftStateFile.open(path, start);
  // Two members admitted at once: both updates are queued before either is written.
  await Promise.all(
    [{ id: 2, name: "g-2" }, { id: 4, name: "g-4" }].map(({ id, name }) =>
      file.update((current) => ({ addresses: { ...current.addresses, [id]: `127.0.0.1:${id}` }, names: { ...current.names, [id]: name } })),
    ),
  );
  assert.deepEqual(file.state.names, { 2: "g-2", 4: "g-4" });
  await file.close();
  const reopened = await RaftStateFile.open(path, start);
  assert.deepEqual(reopened.state.addresses, { 2: "127.0.0.1:2", 4: "127.0.0.1:4" });
  assert.deepEqual(reopened.state.names, { 2: "g-2", 4: "g-4" });
});

test("a noted commit index reaches the disk in the background and rides along with the next update", async (t) => {
  const path = join(await tempDir(t), "raft-state.json");
  const file = await RaftStateFile.open(path, start);
  await file.update({ hardState: { term: 1, vote: 1, commit: 1 } });
  file.noteCommit(7);
  assert.equal(await committedOnDisk(path), 1, "noting does not wait for the disk");
  await waitUntilAsync("the noted commit to be written", async () => (await committedOnDisk(path)) === 7, 5_000);
  file.noteCommit(9);
  await file.update({ hardState: { term: 2, vote: 0, commit: 8 } });
  assert.deepEqual(JSON.parse(await readFile(path, "utf8")).hardState, { term: 2, vote: 0, commit: 9 }, "the higher noted commit is kept");
  file.noteCommit(5);
  assert.equal(file.state.hardState.commit, 9, "a lower commit is ignored");
  await file.close();
});

test("close writes a pending commit index once; after it nothing more is written, so the directory can go", async (t) => {
  const path = join(await tempDir(t), "raft-state.json");
  const file = await RaftStateFile.open(path, start);
  await file.update({});
  t.mock.timers.enable({ apis: ["setTimeout"] });
  file.noteCommit(3);
  await file.close();
  assert.equal(await committedOnDisk(path), 3, "a clean close keeps the commit index");
  file.noteCommit(4);
  await assert.rejects(file.update({ addresses: { 2: "127.0.0.1:1" } }), LogClosedError);
  await writeFile(path, "sentinel");
  // Every background write would be due by now; none may start.
  t.mock.timers.tick(60_000);
  await file.close();
  assert.equal(await readFile(path, "utf8"), "sentinel");
});

test("a malformed state file refuses to open with a data-loss error", async (t) => {
  const path = join(await tempDir(t), "raft-state.json");
  await writeFile(path, JSON.stringify({ version: 1, hardState: { term: -1 } }));
  await assert.rejects(RaftStateFile.open(path, start), DataLossError);
  // Empty or cut short, as an unsynced write leaves it after a power loss.
  for (const torn of ["", JSON.stringify({ version: 1 }).slice(0, 7)]) {
    await writeFile(path, torn);
    await assert.rejects(RaftStateFile.open(path, start), DataLossError);
  }
});

test("the cluster id is kept, and one that is not 16 hex digits is a malformed file", async (t) => {
  const path = join(await tempDir(t), "raft-state.json");
  const file = await RaftStateFile.open(path, { ...start, clusterId: "0123456789abcdef" });
  await file.update({});
  await file.close();
  assert.equal((await RaftStateFile.open(path, start)).state.clusterId, "0123456789abcdef");
  const stored = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  for (const clusterId of ["0123456789ABCDEF", "0123", 12345]) {
    await writeFile(path, JSON.stringify({ ...stored, clusterId }));
    await assert.rejects(RaftStateFile.open(path, start), DataLossError, String(clusterId));
  }
});
