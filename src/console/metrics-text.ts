// Just enough of Prometheus's text exposition format for the console: the sum of every sample of
// one metric (all its label sets), or undefined when the text has none.
export function sumOfSamples(text: string, metric: string): number | undefined {
  let sum: number | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith(metric)) continue;
    // The name ends at "{" (labels) or a space (the value); a longer name only shares the prefix.
    const rest = line.slice(metric.length);
    if (!rest.startsWith("{") && !rest.startsWith(" ")) continue;
    const value = Number(rest.slice(rest.lastIndexOf("}") + 1).trim().split(/\s+/)[0]);
    if (Number.isFinite(value)) sum = (sum ?? 0) + value;
  }
  return sum;
}
