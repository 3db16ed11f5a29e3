// `loghouse produce`, `consume` and `status`: the client from the command line. Each talks to
// --server (or LOGHOUSE_SERVER, default 127.0.0.1:8400) and prints what it did as JSON on stdout.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { LoghouseClient } from "../client/client.ts";
import { leaveCluster } from "../cluster/admin-protocol.ts";
import { InvalidConfigError } from "../errors.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "../server/config.ts";
import { parseHostPort } from "./address.ts";

export function serverAddress(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  const address = flag ?? env.LOGHOUSE_SERVER ?? `${DEFAULT_HOST}:${DEFAULT_PORT}`;
  parseHostPort(address, "server");
  return address;
}

function integerFlag(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 0) throw new InvalidConfigError(`--${name} must be a non-negative integer, got ${value}`);
  return number;
}

/** Writes a line to stdout, waiting when the pipe is full (so a slow reader slows us down). */
async function writeLine(line: string | Buffer): Promise<void> {
  const ok = process.stdout.write(line);
  const newline = process.stdout.write("\n");
  if (!ok || !newline) await new Promise((resolve) => process.stdout.once("drain", resolve));
}

export interface ProduceFlags {
  readonly server?: string;
  readonly "linger-ms"?: string;
  readonly "batch-bytes"?: string;
}

/** Each line of the files (or of stdin) becomes one record, in order; batches go out as they fill. */
export async function produce(flags: ProduceFlags, files: readonly string[]): Promise<number> {
  const client = new LoghouseClient(serverAddress(flags.server, process.env));
  const producer = client.producer({
    lingerMs: integerFlag("linger-ms", flags["linger-ms"], 5),
    batchBytesMax: integerFlag("batch-bytes", flags["batch-bytes"], 1024 * 1024) || 1,
  });
  const inputs: Readable[] = files.length === 0 ? [process.stdin] : files.map((file) => createReadStream(file));
  let records = 0;
  let first: bigint | undefined;
  let last: bigint | undefined;
  let failure: unknown;
  const acknowledged = (offset: bigint): void => {
    if (first === undefined || offset < first) first = offset;
    if (last === undefined || offset > last) last = offset;
  };
  try {
    for (const input of inputs) {
      for await (const line of createInterface({ input, crlfDelay: Infinity })) {
        producer.send(Buffer.from(line)).then(acknowledged, (error: unknown) => (failure ??= error));
        records++;
        if (producer.full) await producer.drained();
        if (failure !== undefined) throw failure;
      }
    }
    await producer.close();
    if (failure !== undefined) throw failure;
  } finally {
    client.close();
  }
  await writeLine(JSON.stringify({ records, firstOffset: first?.toString() ?? null, lastOffset: last?.toString() ?? null }));
  return 0;
}

export interface ConsumeFlags {
  readonly server?: string;
  readonly from?: string;
  readonly follow?: boolean;
  readonly count?: string;
  readonly format?: string;
}

function parseFrom(value: string | undefined): bigint | "start" | "end" {
  if (value === undefined || value === "start" || value === "end") return value ?? "start";
  if (!/^\d+$/.test(value)) throw new InvalidConfigError(`--from must be an offset, "start" or "end", got ${value}`);
  return BigInt(value);
}

/** Prints records from --from on (text: the value per line; json: one object per record). */
export async function consume(flags: ConsumeFlags): Promise<number> {
  const format = flags.format ?? "text";
  if (format !== "text" && format !== "json") throw new InvalidConfigError(`--format must be text or json, got ${format}`);
  const countMax = flags.count === undefined ? Infinity : integerFlag("count", flags.count, 0);
  const client = new LoghouseClient(serverAddress(flags.server, process.env));
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let printed = 0;
  try {
    if (countMax === 0) return 0;
    for await (const record of client.consume({ from: parseFrom(flags.from), follow: flags.follow === true, signal: abort.signal })) {
      const value = Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength);
      // A cluster's own entries (type 1: a leader's no-op, 2: a membership change) are records too;
      // text output shows data only, JSON shows everything with its type.
      if (format === "text" && record.type !== 0) continue;
      await writeLine(format === "text" ? value : JSON.stringify(recordJson(record.offset, record.timestampMs, record.type, value)));
      if (++printed >= countMax) break;
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    client.close();
  }
  return 0;
}

function recordJson(offset: bigint, timestampMs: bigint, type: number, value: Buffer): Record<string, unknown> {
  const text = value.toString("utf8");
  const exact = Buffer.from(text, "utf8").equals(value);
  return {
    offset: offset.toString(),
    timestampMs: Number(timestampMs),
    ...(type === 0 ? {} : { type }),
    ...(exact ? { value: text } : { valueBase64: value.toString("base64") }),
  };
}

/** Prints the node's health, its servers and the log's offsets. */
export async function status(flags: { readonly server?: string }): Promise<number> {
  const address = serverAddress(flags.server, process.env);
  const client = new LoghouseClient(address);
  try {
    const [health, servers, offsets] = await Promise.all([client.healthStatus(), client.servers(), client.offsets()]);
    await writeLine(
      JSON.stringify({
        server: address,
        health,
        servers: servers.map((s) => ({ id: s.id, rpcAddr: s.rpcAddr, isLeader: s.isLeader })),
        lowestOffset: offsets.lowestOffset.toString(),
        endOffset: offsets.endOffset.toString(),
      }),
    );
    return health === "SERVING" ? 0 : 1;
  } finally {
    client.close();
  }
}

/** Asks the cluster (through --server) to remove member --node-id. */
export async function leave(flags: { readonly server?: string; readonly "node-id"?: string }): Promise<number> {
  const nodeId = Number(flags["node-id"]);
  if (!Number.isSafeInteger(nodeId) || nodeId <= 0) throw new InvalidConfigError(`leave needs --node-id, a positive integer; got ${String(flags["node-id"])}`);
  await leaveCluster(serverAddress(flags.server, process.env), nodeId);
  await writeLine(JSON.stringify({ left: nodeId }));
  return 0;
}
