// How a consume runs over whatever serves the reads (one node, or a cluster through the routing
// client): where it starts, fetches up to the end it saw at the start, or a stream that follows
// the tail. Both clients share it, so "start", "end" and the stopping rule mean the same in each.
import { InvalidArgumentError, OffsetOutOfRangeError } from "../errors.ts";
import type { ConsumeBatchResponse, GetOffsetsResponse, Record as RecordMessage } from "../gen/log/v1/log_pb.ts";

/** A record as read: value, offset, creation time (ms since the epoch), term and type. */
export type ConsumedRecord = RecordMessage;

export interface ReadOptions {
  /** Most records per answer (the server caps it). */
  readonly maxRecords?: number;
  /** Byte budget per answer (the server caps it). */
  readonly maxBytes?: number;
}

/** Cancels a call when its signal aborts (it then rejects with the signal's reason). */
export interface AbortOptions {
  readonly signal?: AbortSignal;
}

export interface ConsumeOptions extends ReadOptions {
  /** First offset, or "start" (the lowest retained) or "end" (only records appended from now). Default "start". */
  readonly from?: bigint | number | "start" | "end";
  /** Keep waiting for new records at the end of the log instead of stopping there. */
  readonly follow?: boolean;
  /** Stops the iteration (it then ends without an error). */
  readonly signal?: AbortSignal;
}

/** What a consume reads through; each call takes the consume's signal and rejects once it aborts. */
export interface RecordSource {
  offsets(options?: AbortOptions): Promise<GetOffsetsResponse>;
  readBatch(offset: bigint, options: ReadOptions & AbortOptions): Promise<ConsumeBatchResponse>;
  /** Arrays of consecutive records from `offset` on, waiting at the tail, until `signal` aborts. */
  followBatches(offset: bigint, options: ReadOptions, signal: AbortSignal | undefined): AsyncIterable<ConsumedRecord[]>;
}

/**
 * Records in offset order from `options.from`, one array at a time: to the end seen at the start, or
 * (follow) for good. Ends quietly, and at once, when `options.signal` aborts, whatever it waits for;
 * a `from` it cannot take is refused whether or not the signal has aborted.
 */
export async function* consumeBatches(source: RecordSource, options: ConsumeOptions): AsyncGenerator<ConsumedRecord[]> {
  const signal = options.signal;
  const from = checkFrom(options.from ?? "start");
  try {
    let at = typeof from === "bigint" ? from : await startOffset(source, from, signal);
    if (options.follow === true) {
      yield* source.followBatches(at, options, signal);
      return;
    }
    const end = (await source.offsets({ signal })).endOffset;
    if (at > end) throw new OffsetOutOfRangeError(at);
    while (at < end && signal?.aborted !== true) {
      const batch = await source.readBatch(at, options);
      yield batch.records;
      at = batch.nextOffset;
    }
  } catch (error) {
    if (signal?.aborted === true) return;
    throw error;
  }
}

/** `from` as an offset, or the end of the log to ask for; InvalidArgumentError for a negative or unsafe number. */
function checkFrom(from: bigint | number | "start" | "end"): bigint | "start" | "end" {
  if (from === "start" || from === "end") return from;
  if ((typeof from === "number" && !Number.isSafeInteger(from)) || from < 0) throw new InvalidArgumentError(`from must be a non-negative integer, got ${from}`);
  return BigInt(from);
}

async function startOffset(source: RecordSource, from: "start" | "end", signal: AbortSignal | undefined): Promise<bigint> {
  const offsets = await source.offsets({ signal });
  return from === "start" ? offsets.lowestOffset : offsets.endOffset;
}
