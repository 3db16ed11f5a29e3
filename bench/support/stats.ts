// Small statistics and formatting helpers shared by the benchmarks.

export function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))]!;
}

export function median(values: readonly number[]): number {
  return percentile([...values].sort((a, b) => a - b), 0.5);
}

export function formatRate(perSecond: number): string {
  if (perSecond >= 1e6) return `${(perSecond / 1e6).toFixed(2)}M`;
  if (perSecond >= 1e3) return `${(perSecond / 1e3).toFixed(1)}k`;
  return perSecond.toFixed(0);
}

/** Prints rows as an aligned text table. */
export function printTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): void {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]): string => cells.map((cell, i) => cell.padStart(widths[i]!)).join("  ");
  console.log(line(header));
  for (const row of rows) console.log(line(row));
}

/** Reads `--name value` from the command line, else the default: a number above 0, or at least `least`; anything else exits 2 with a usage line. */
export function flag(name: string, fallback: number, least = Number.MIN_VALUE): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const given = process.argv[at + 1];
  const value = Number(given);
  if (given === undefined || given.trim() === "" || !Number.isFinite(value) || value < least) {
    // A usage error, not a run of no trials: "--runs 0" printed a table of NaN medians.
    console.error(`--${name} needs a number ${least === Number.MIN_VALUE ? "above 0" : `of at least ${least}`}, got ${given === undefined ? "nothing" : JSON.stringify(given)}`);
    process.exit(2);
  }
  return value;
}
