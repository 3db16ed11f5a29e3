// How a consume runs over whatever serves the reads (one node, or a cluster through the routing
// client): where it starts, fetches up to the end it saw at the start, or a stream that follows
// the tail. Both clients share it, so "start", "end" and the stopping rule mean the same in each.
import { InvalidArgumentError, OffsetOutOfRangeError } from "../errors.ts";
import type { ConsumeBatchResponse, GetOffsetsResponse, Record as RecordMessage } from "../gen/log/v1/log_pb.ts";
import { readBounds, u64Argument } from "./read-requests.ts";

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
 * (follow) for good. Ends quietly, and at once, when `options.signal` aborts, whatever it waits for,
 * and hands out no array after that; a `from` it cannot take is refused whether or not the signal
 * has aborted.
 */
export async function* consumeBatches(source: RecordSource, options: ConsumeOptions): AsyncGenerator<ConsumedRecord[]> {
  const signal = options.signal;
  const from = checkFrom(options.from ?? "start");
  readBounds(options); // checked now too, whether or not the signal has aborted
  try {
    let at = typeof from === "bigint" ? from : await startOffset(source, from, signal);
    if (options.follow === true) {
      for await (const records of source.followBatches(at, options, signal)) {
        if (aborted(signal)) return;
        yield records;
      }
      return;
    }
    const end = (await source.offsets({ signal })).endOffset;
    if (at > end) throw new OffsetOutOfRangeError(at);
    while (at < end && !aborted(signal)) {
      const batch = await source.readBatch(at, options);
      // An answer that arrived as the signal aborted is not handed out.
      if (aborted(signal)) return;
      yield batch.records;
      at = batch.nextOffset;
    }
  } catch (error) {
    if (aborted(signal)) return;
    throw error;
  }
}

/**
 * The records of consumeBatches one at a time; once `options.signal` aborts, none more, not even the
 * rest of an array already received.
 */
export async function* consumeRecords(source: RecordSource, options: ConsumeOptions): AsyncGenerator<ConsumedRecord> {
  const signal = options.signal;
  for await (const records of consumeBatches(source, options)) {
    for (const record of records) {
      if (aborted(signal)) return;
      yield record;
    }
  }
}

/** Whether `signal` has aborted (a call: TypeScript would keep a property check narrowed across an await). */
function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

/** `from` as an offset, or the end of the log to ask for; InvalidArgumentError for anything else. */
function checkFrom(from: unknown): bigint | "start" | "end" {
  if (from === "start" || from === "end") return from;
  if (typeof from === "string") throw new InvalidArgumentError(`from must be an offset, "start" or "end", got ${JSON.stringify(from)}`);
  return u64Argument("from", from);
}

async function startOffset(source: RecordSource, from: "start" | "end", signal: AbortSignal | undefined): Promise<bigint> {
  const offsets = await source.offsets({ signal });
  return from === "start" ? offsets.lowestOffset : offsets.endOffset;
}
