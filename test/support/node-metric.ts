// One value from a node's /metrics (plaintext), for tests and benchmarks that read what a node counted.

/** The value of the unlabelled metric `name` on the node at `address`. */
export async function nodeMetric(address: string, name: string): Promise<number> {
  const text = await (await fetch(`http://${address}/metrics`)).text();
  const value = new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1];
  if (value === undefined) throw new Error(`the node at ${address} shows no ${name}`);
  return Number(value);
}
