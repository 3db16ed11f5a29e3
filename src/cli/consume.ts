// `loghouse consume`: prints records from an offset (--from N, -N before the end, start or end) or a
// time (--from-time), once or following the tail, as text, JSON or a template.
import type { ClusterClient } from "../client/cluster-client.ts";
import { UsageError } from "../errors.ts";
import { connectClient, integerFlag, stringFlag, writeLine } from "./client-flags.ts";
import type { Flags } from "./commands.ts";
import { recordPrinter } from "./record-output.ts";

type Start = { readonly offset: bigint } | { readonly back: bigint } | { readonly timeMs: number } | "start" | "end";

/**
 * Ms since the epoch of an ISO 8601 date (midnight UTC) or date and time ("2026-11-29T08:00:00Z", a
 * space for the T as `date --rfc-3339` writes it; without a zone, local time), or undefined:
 * Date.parse alone takes nonsense ("hello 1" is 2001) and rolls a day past a month's end into the next.
 */
function isoTimeMs(text: string): number | undefined {
  const match = /^(\d{4})-(\d{2})-(\d{2})(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?)?$/.exec(text);
  if (match === null) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

const U64_MAX = 2n ** 64n - 1n;

function parseStart(from: string | undefined, fromTime: string | undefined): Start {
  if (from !== undefined && fromTime !== undefined) throw new UsageError("give --from or --from-time, not both");
  if (fromTime !== undefined) {
    const timeMs = /^\d+$/.test(fromTime) ? Number(fromTime) : isoTimeMs(fromTime);
    if (timeMs === undefined || !Number.isSafeInteger(timeMs)) throw new UsageError(`--from-time must be an ISO 8601 time or ms since the epoch, got ${fromTime}`);
    return { timeMs };
  }
  if (from === undefined || from === "start" || from === "end") return from ?? "start";
  const number = /^-?\d+$/.test(from) ? BigInt(from) : undefined;
  if (number !== undefined && (number > U64_MAX || -number > U64_MAX)) throw new UsageError(`--from must fit in 64 bits (offsets are u64), got ${from}`);
  if (number !== undefined) return from.startsWith("-") ? { back: -number } : { offset: number };
  throw new UsageError(`--from must be an offset, -N (N before the end), "start" or "end", got ${from}`);
}

/**
 * The first offset to read, asking the node where the start depends on the log. An offset below the
 * log's start (offset 0 of a cluster, whose log starts at 1; or records retention dropped) reads
 * from the start, saying so on stderr, as a consumer resetting to the earliest offset would.
 */
async function startOffset(client: ClusterClient, start: Start): Promise<bigint | "start" | "end"> {
  if (typeof start === "string") return start;
  if ("offset" in start) {
    const { lowestOffset } = await client.offsets();
    if (start.offset >= lowestOffset) return start.offset;
    process.stderr.write(`loghouse: offset ${start.offset} is before the log's start; reading from ${lowestOffset}\n`);
    return lowestOffset;
  }
  if ("timeMs" in start) return (await client.offsetForTimestamp(start.timeMs)).offset;
  const { lowestOffset, endOffset } = await client.offsets();
  const back = endOffset - start.back;
  return back > lowestOffset ? back : lowestOffset;
}

export async function consume(flags: Flags): Promise<number> {
  const print = recordPrinter(stringFlag(flags, "format"));
  const start = parseStart(stringFlag(flags, "from"), stringFlag(flags, "from-time"));
  const countMax = flags.count === undefined ? Infinity : integerFlag(flags, "count", 0);
  const client = connectClient(flags);
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let printed = 0;
  try {
    if (countMax === 0) return 0;
    const from = await startOffset(client, start);
    for await (const record of client.consume({ from, follow: flags.follow === true, signal: abort.signal })) {
      const value = Buffer.from(record.value.buffer, record.value.byteOffset, record.value.byteLength);
      const line = print({ offset: record.offset, timestampMs: record.timestampMs, type: record.type, value });
      if (line === undefined) continue;
      await writeLine(line);
      if (++printed >= countMax) break;
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
    client.close();
  }
  return 0;
}
