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
 * Runs seeds first, first+1, ... (count of them), stopping at the first failure when `stopOnFailure`.
 * `progress` is called after each seed.
 */
export async function runSeeds(options: {
  first: number;
  count: number;
  nodes: number | undefined;
  stopOnFailure: boolean;
  /** Lose disks too (default on; see SimulationOptions.diskLoss). */
  diskLoss?: boolean;
  progress?: (done: number, summary: SeedsSummary, seed: SeedOutcome) => void;
}): Promise<SeedsSummary> {
  const started = performance.now();
  const failures: SeedFailure[] = [];
  let events = 0;
  let done = 0;
  for (let seed = options.first; seed < options.first + options.count; seed++) {
    const nodes = nodesForSeed(seed, options.nodes);
    const result = await runSeed(seed, nodes, false, options.diskLoss);
    events += result.stats.events;
    done++;
    if (!result.ok) failures.push({ seed, nodes, error: result.error });
    options.progress?.(done, { seeds: done, failures, events, elapsedMs: performance.now() - started }, { seed, nodes, ok: result.ok, stats: result.stats });
    if (!result.ok && options.stopOnFailure) break;
  }
  return { seeds: done, failures, events, elapsedMs: performance.now() - started };
}
