import { Worker } from "node:worker_threads";
import { Simulation, type SimulationResult, type SimulationStats } from "./simulation.ts";

export interface SeedFailure {
  readonly seed: number;
  readonly nodes: number;
  readonly error: string;
}

/** One seed's outcome, as progress reports it. */
export interface SeedOutcome {
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  readonly stats: SimulationStats;
}

export interface SeedsSummary {
  readonly seeds: number;
  readonly failures: readonly SeedFailure[];
  readonly events: number;
  readonly elapsedMs: number;
}

/** The cluster size a seed runs with when none is forced: odd seeds run 3 nodes, even seeds 5. */
export function nodesForSeed(seed: number, forced: number | undefined): number {
  return forced ?? (seed % 2 === 1 ? 3 : 5);
}

/** Runs one seed; the same arguments always give the same result. */
export function runSeed(seed: number, nodes: number, trace: boolean, diskLoss = true): Promise<SimulationResult> {
  return new Simulation({ seed, nodes, trace, diskLoss }).run();
}

/**
 * A worker thread running seed-worker with `work`. From the sources (.ts, run through tsx) the thread
 * registers tsx before importing it: Node 20 runs no --import in a worker thread.
 */
function seedWorker(work: SeedWork): Worker {
  const fromSources = import.meta.url.endsWith(".ts");
  const module = new URL(fromSources ? "./seed-worker.ts" : "./seed-worker.js", import.meta.url);
  if (!fromSources) return new Worker(module, { workerData: work });
  const start = `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((tsx) => tsx.register()).then(() => import(${JSON.stringify(module.href)}))`;
  return new Worker(start, { eval: true, workerData: work });
}

/** What a worker thread of runSeeds is given (seed-worker.ts). */
export interface SeedWork {
  readonly seeds: ReadonlyArray<{ readonly seed: number; readonly nodes: number }>;
  readonly diskLoss: boolean | undefined;
}

/** One seed's result as a worker thread posts it. */
export interface SeedResult {
  readonly seed: number;
  readonly nodes: number;
  readonly ok: boolean;
  readonly error: string | undefined;
  readonly stats: SimulationStats;
}

/**
 * Runs seeds first, first+1, ... (count of them), stopping at the first failure when `stopOnFailure`
 * (seeds already under way in other threads finish first). With `threads` above 1 the seeds are
 * dealt round-robin to that many worker threads, which run them at once: the outcomes are the same,
 * `progress` (called after each seed) then sees them in the order they end, and failures are listed
 * in seed order.
 */
export async function runSeeds(options: {
  first: number;
  count: number;
  nodes: number | undefined;
  stopOnFailure: boolean;
  /** Lose disks too (default on; see SimulationOptions.diskLoss). */
  diskLoss?: boolean;
  /** Worker threads to run the seeds in (default 1: this thread). */
  threads?: number;
  progress?: (done: number, summary: SeedsSummary, seed: SeedOutcome) => void;
}): Promise<SeedsSummary> {
  const started = performance.now();
  const failures: SeedFailure[] = [];
  let events = 0;
  let done = 0;
  /** Counts one seed's result; returns whether to go on. */
  const record = (result: SeedResult): boolean => {
    events += result.stats.events;
    done++;
    if (!result.ok) failures.push({ seed: result.seed, nodes: result.nodes, error: result.error! });
    const summary = { seeds: done, failures, events, elapsedMs: performance.now() - started };
    options.progress?.(done, summary, { seed: result.seed, nodes: result.nodes, ok: result.ok, stats: result.stats });
    return result.ok || !options.stopOnFailure;
  };
  const seeds = Array.from({ length: options.count }, (_, i) => ({ seed: options.first + i, nodes: nodesForSeed(options.first + i, options.nodes) }));
  const threads = Math.min(options.threads ?? 1, seeds.length);
  if (threads <= 1) {
    for (const { seed, nodes } of seeds) {
      const result = await runSeed(seed, nodes, false, options.diskLoss);
      if (!record({ seed, nodes, ok: result.ok, error: result.ok ? undefined : result.error, stats: result.stats })) break;
    }
  } else {
    await inWorkers(seeds, threads, options.diskLoss, record);
    failures.sort((a, b) => a.seed - b.seed);
  }
  return { seeds: done, failures, events, elapsedMs: performance.now() - started };
}

/** Deals `seeds` to `threads` worker threads and hands each result to `record`; stops them all once it returns false. */
async function inWorkers(seeds: ReadonlyArray<{ seed: number; nodes: number }>, threads: number, diskLoss: boolean | undefined, record: (result: SeedResult) => boolean): Promise<void> {
  const workers = Array.from({ length: threads }, (_, i) => seedWorker({ seeds: seeds.filter((_, at) => at % threads === i), diskLoss }));
  let stopping = false;
  const stopAll = (): void => {
    stopping = true;
    for (const worker of workers) void worker.terminate();
  };
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          worker.on("message", (result: SeedResult) => {
            if (stopping) return;
            if (!record(result)) stopAll();
          });
          worker.once("error", (error) => {
            stopAll();
            reject(error);
          });
          worker.once("exit", (code) => (code === 0 || stopping ? resolve() : reject(new Error(`a simulator worker thread exited with ${code}`))));
        }),
    ),
  );
}
