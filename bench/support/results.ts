// Where a benchmark's results go: bench/results/<name>-<time>.json with its chart beside it as .svg
// (LOGHOUSE_BENCH_RESULTS names another folder, as the tests of the benchmarks do).
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

const RESULTS_DIR = process.env.LOGHOUSE_BENCH_RESULTS ?? join(import.meta.dirname, "..", "results");

/** Writes the JSON and the SVG under one name and prints both paths; returns the JSON's path. */
export async function writeResults(name: string, data: unknown, svg: string): Promise<string> {
  await mkdir(RESULTS_DIR, { recursive: true });
  const stem = join(RESULTS_DIR, `${name}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  await writeFile(`${stem}.json`, JSON.stringify(data, null, 2));
  await writeFile(`${stem}.svg`, svg);
  console.log(`results written to ${stem}.json`);
  console.log(`chart written to ${stem}.svg`);
  return `${stem}.json`;
}
