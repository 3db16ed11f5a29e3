// A worker thread of runSeeds (run-seeds.ts): runs the seeds it is given, in order, and posts each
// one's outcome to the thread that started it. Seeds share nothing, so seeds run in several threads
// give the same outcomes as in one.
import assert from "node:assert/strict";
import { parentPort, workerData } from "node:worker_threads";
import { runSeed, type SeedWork, type SeedResult } from "./run-seeds.ts";

const work = workerData as SeedWork;
assert.ok(parentPort !== null, "seed-worker.ts runs as a worker thread");
for (const seed of work.seeds) {
  const result = await runSeed(seed.seed, seed.nodes, false, work.diskLoss);
  const message: SeedResult = { seed: seed.seed, nodes: seed.nodes, ok: result.ok, error: result.ok ? undefined : result.error, stats: result.stats };
  parentPort.postMessage(message);
}
