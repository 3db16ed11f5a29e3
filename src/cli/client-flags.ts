// What every client command shares: which members to talk to (--server HOST:PORT[,...],
// LOGHOUSE_SERVER, default 127.0.0.1:8400; any member will do), the deadline on each call
// (--timeout, retries included), number flags, and writing to stdout at the pace of the reader.
import { readFileSync } from "node:fs";
import { LoghouseClient, type ClientOptions } from "../client/client.ts";
import { nodeAddress, splitAddressList } from "../client/address-list.ts";
import { ClusterClient } from "../client/cluster-client.ts";
import { TIMER_MS_MAX } from "../client/option-checks.ts";
import { isNodeName, NODE_NAME_RULE } from "../cluster/node-name.ts";
import { UsageError } from "../errors.ts";
import { CLUSTER_ID_HEADER, isClusterId } from "../wire/cluster-id.ts";
import { DEFAULT_HOST, DEFAULT_PORT } from "../server/config.ts";
import { parseDurationMs } from "./duration.ts";
import type { Flags } from "./commands.ts";

const CALL_TIMEOUT_MS_DEFAULT = 30_000;

/** --server (or LOGHOUSE_SERVER): one or more HOST:PORT, separated by commas. */
export function serverAddresses(flags: Flags, env: NodeJS.ProcessEnv): string[] {
  const list = stringFlag(flags, "server") ?? env.LOGHOUSE_SERVER ?? `${DEFAULT_HOST}:${DEFAULT_PORT}`;
  const addresses = splitAddressList(list);
  if (addresses.length === 0) throw new UsageError("--server (or LOGHOUSE_SERVER) must name at least one HOST:PORT");
  for (const address of addresses) {
    try {
      nodeAddress(address);
    } catch {
      throw new UsageError(`--server must be HOST:PORT with a port from 1 (e.g. 127.0.0.1:8400), got ${JSON.stringify(address)}`);
    }
  }
  return addresses;
}

/**
 * A routing client for the members --server names (writes to the leader, reads from followers),
 * each call bounded by the --timeout deadline, retries included, with --tls-* and --token.
 */
export function connectClient(flags: Flags): ClusterClient {
  const clusterId = clusterIdFlag(flags, process.env);
  return new ClusterClient(serverAddresses(flags, process.env), { callTimeoutMs: timeoutMs(flags), ...clientCredentials(flags, process.env), ...(clusterId === undefined ? {} : { clusterId }) });
}

/** --cluster-id (or LOGHOUSE_CLUSTER_ID): the cluster the commands keep to, if given. */
function clusterIdFlag(flags: Flags, env: NodeJS.ProcessEnv): string | undefined {
  const clusterId = stringFlag(flags, "cluster-id") ?? env.LOGHOUSE_CLUSTER_ID;
  if (clusterId !== undefined && !isClusterId(clusterId)) throw new UsageError(`--cluster-id (or LOGHOUSE_CLUSTER_ID) must be 16 hex digits, as loghouse status shows it, got ${JSON.stringify(clusterId)}`);
  return clusterId;
}

/** Runs `use` with a client for --server (as connectClient) and closes the client however `use` ends. */
export async function withClient<T>(flags: Flags, use: (client: ClusterClient) => Promise<T>): Promise<T> {
  return using(connectClient(flags), use);
}

/** Runs `use` with a client for one node, --server's `address`, and closes it however `use` ends. */
export async function withNodeClient<T>(flags: Flags, address: string, use: (client: LoghouseClient) => Promise<T>): Promise<T> {
  // With --cluster-id, a node of another cluster refuses the calls (CLUSTER_MISMATCH).
  const clusterId = clusterIdFlag(flags, process.env);
  const naming = clusterId === undefined ? {} : { callHeaders: () => ({ [CLUSTER_ID_HEADER]: clusterId }) };
  return using(new LoghouseClient(address, { callTimeoutMs: timeoutMs(flags), ...clientCredentials(flags, process.env), ...naming }), use);
}

async function using<C extends { close(): void }, T>(client: C, use: (client: C) => Promise<T>): Promise<T> {
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

function readPem(path: string, flag: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`--${flag}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}

/** TLS (any of --tls-ca, --tls-cert, --tls-key given) and the bearer token, from flags or LOGHOUSE_* variables. */
function clientCredentials(flags: Flags, env: NodeJS.ProcessEnv): Pick<ClientOptions, "tls" | "token"> {
  const ca = stringFlag(flags, "tls-ca") ?? env.LOGHOUSE_TLS_CA;
  const cert = stringFlag(flags, "tls-cert") ?? env.LOGHOUSE_TLS_CERT;
  const key = stringFlag(flags, "tls-key") ?? env.LOGHOUSE_TLS_KEY;
  // Trimmed: a token read from a file (LOGHOUSE_TOKEN=$(cat ...) or an env file) may keep its newline.
  const token = (stringFlag(flags, "token") ?? env.LOGHOUSE_TOKEN)?.trim();
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  const tls =
    ca === undefined && cert === undefined
      ? undefined
      : {
          ...(ca === undefined ? {} : { ca: readPem(ca, "tls-ca") }),
          ...(cert === undefined ? {} : { cert: readPem(cert, "tls-cert"), key: readPem(key!, "tls-key") }),
        };
  return { ...(tls === undefined ? {} : { tls }), ...(token === undefined ? {} : { token }) };
}

/** --timeout: "500ms", "10s", "2m" or plain milliseconds. */
export function timeoutMs(flags: Flags): number {
  const text = stringFlag(flags, "timeout");
  if (text === undefined) return CALL_TIMEOUT_MS_DEFAULT;
  const value = parseDurationMs(text);
  if (value === undefined || value <= 0 || value > TIMER_MS_MAX) throw new UsageError(`--timeout must be a positive duration such as 500ms, 10s or 2m, at most 24 days, got ${text}`);
  return value;
}

export function stringFlag(flags: Flags, name: string): string | undefined {
  const value = flags[name];
  return typeof value === "string" ? value : undefined;
}

/** An integer flag of at least `min` (default 0), or `fallback` when absent. */
export function integerFlag(flags: Flags, name: string, fallback: number, min = 0): number {
  const value = stringFlag(flags, name);
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)) || Number(value) < min) {
    throw new UsageError(`--${name} must be ${min === 0 ? "a non-negative integer" : `an integer >= ${min}`}, got ${value}`);
  }
  return Number(value);
}

/** A node's name (a numeric one included), required. */
export function nodeNameFlag(flags: Flags, name: string): string {
  const text = stringFlag(flags, name);
  if (text === undefined) throw new UsageError(`--${name} is required: the member's node name, as loghouse status shows it`);
  if (!isNodeName(text)) throw new UsageError(`--${name} must be a node name, ${NODE_NAME_RULE}; got ${text}`);
  return text;
}

/** Writes a line to stdout, waiting when the pipe is full (so a slow reader slows us down). */
export async function writeLine(line: string | Buffer): Promise<void> {
  const ok = process.stdout.write(line);
  const newline = process.stdout.write("\n");
  if (!ok || !newline) await new Promise((resolve) => process.stdout.once("drain", resolve));
}
