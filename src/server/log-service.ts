// The log.v1.Log service: a plain object of handlers over one storage log, shared by every
// protocol the server speaks (the gRPC fast path and the Connect router call the same functions).
// Handlers take only what they use from the call context (its signal), speak in catalogue errors
// (src/errors.ts), and never poll: a reader at the end of the log waits on log.waitFor.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { BatchTooLargeError, InvalidArgumentError, OffsetOutOfRangeError } from "../errors.ts";
import type {
  ConsumeBatchRequest,
  ConsumeBatchStreamRequest,
  ConsumeRequest,
  GetServersResponseSchema,
  Log as LogServiceDesc,
  OffsetForTimestampRequest,
  ProduceBatchRequest,
  ProduceRequest,
  RecordSchema,
  ServerSchema,
} from "../gen/log/v1/log_pb.ts";
import { setImmediate as nextTurn } from "node:timers/promises";
import {
  checkRecordBytes,
  isGathered,
  largestValueBytes,
  valueCount,
  valueViews,
  type AppendedBatch,
  type AppendValues,
  type GatheredValues,
  type LogRecord,
  type ProducerAppender,
  type ProducerBatch,
  type ServedLog,
} from "../storage/index.ts";
import type { GatheredProduceBatchRequest } from "../wire/record-codec.ts";
import type { Tracer } from "../observability/tracing.ts";
import { principalOf, type CallContext, type ServiceHandlers } from "./call-context.ts";
import type { ServerLimits } from "./config.ts";
import { traceProduces } from "./log-service-tracing.ts";
import { ownedBy } from "./producer-owner.ts";

type Unary<Req, Res> = (request: Req, context: CallContext) => Promise<Res>;

/**
 * The service's handlers. ProduceBatch also takes its request with the values gathered, as the gRPC
 * fast path decodes it (src/wire); the Connect router hands it protobuf-es's array of values.
 */
export type LogHandlers = Omit<ServiceHandlers<typeof LogServiceDesc>, "produceBatch"> & {
  produceBatch: (request: ProduceBatchRequest | GatheredProduceBatchRequest, context: CallContext) => ReturnType<ServiceHandlers<typeof LogServiceDesc>["produceBatch"]>;
};

export interface LogServiceOptions {
  readonly log: ServedLog;
  /** Appends idempotent producers' batches once (requests that carry a producer). */
  readonly producers: ProducerAppender;
  readonly limits: ServerLimits;
  /** The nodes to report from GetServers (this node alone on a single node). */
  readonly servers: () => ReadonlyArray<MessageInitShape<typeof ServerSchema>>;
  /** The cluster's id for GetServers (undefined: a node alone, or a member that knows none). */
  readonly clusterId: () => string | undefined;
  /** Traces the produce calls and their appends (absent: no tracing, at no cost). */
  readonly tracer?: Tracer;
  /** Told how many records each read for a consumer took from the log (once per read, not per record). */
  readonly onRecordsRead?: (records: number) => void;
}

const EMPTY = new Uint8Array(0);
/** Bookkeeping cost of one pipelined record, so that empty records still count against the budget. */
const RECORD_IN_FLIGHT_OVERHEAD_BYTES = 64;
const MAX_OFFSET = BigInt(Number.MAX_SAFE_INTEGER);

/** Records in a stream's first read; each read after it may hold twice as many, up to the stream's bounds. */
const STREAM_FIRST_READ_RECORDS = 64;
/**
 * Records one ConsumeStream read holds (it answers them one by one). A stream whose client does not
 * read waits holding its last read; with thousands of such streams a full read each (readRecordsMax
 * record objects) came to gigabytes of heap.
 */
const STREAM_READ_RECORDS_MAX = 256;

/**
 * The bounds of a stream's successive reads: small at first, doubling up to `bounds`. A stream reset
 * right after its request (by a client that opens and resets streams in a loop, CVE-2023-44487) costs
 * one small read, not a full one; a stream that is read on reaches full reads within a few answers.
 */
function rampingBounds(bounds: { countMax: number; bytesMax: number }): () => { countMax: number; bytesMax: number } {
  let countMax = Math.min(STREAM_FIRST_READ_RECORDS, bounds.countMax);
  return () => {
    const next = { countMax, bytesMax: bounds.bytesMax };
    countMax = Math.min(countMax * 2, bounds.countMax);
    return next;
  };
}

export function toRecordMessage(record: LogRecord): MessageInitShape<typeof RecordSchema> {
  return {
    value: record.value,
    offset: BigInt(record.offset),
    term: BigInt(record.term),
    type: record.type,
    timestampMs: BigInt(record.timestampMs),
  };
}

export function createLogService(options: LogServiceOptions): LogHandlers {
  const { log, producers, limits, tracer } = options;

  // Gathered values go to a log whole where it takes them so (a single node's), else as a view per value (a cluster's).
  const appendGathered = log.appendGathered?.bind(log) ?? ((values: GatheredValues, context: CallContext) => log.append(valueViews(values), context));
  const appendGatheredOnce =
    producers.appendGatheredOnce?.bind(producers) ?? ((values: GatheredValues, producer: ProducerBatch) => producers.appendOnce(valueViews(values), producer));
  const appendToLog = (values: AppendValues, context: CallContext): Promise<number> =>
    isGathered(values) ? appendGathered(values, context) : log.append(values, context);

  /**
   * Appends `values` for the call of `context` (a follower forwards them with its deadline and
   * cancellation); resolves with the first offset once they are durable (fsynced, or committed on a
   * majority in a cluster). Traced, the whole wait is one span.
   */
  const append =
    tracer === undefined
      ? appendToLog
      : (values: AppendValues, context: CallContext) =>
          tracer.inSpan("loghouse.append", { kind: "internal", attributes: { "loghouse.records": valueCount(values) } }, async (span) => {
            const firstOffset = await appendToLog(values, context);
            span.setAttribute("loghouse.first_offset", firstOffset);
            return firstOffset;
          });
  const recordsRead = options.onRecordsRead ?? (() => undefined);
  /** A read of records for a consumer, counted. */
  const counted = (records: LogRecord[]): LogRecord[] => {
    recordsRead(records.length);
    return records;
  };

  /** A record value from a produce request, within the limits. */
  const recordValue = (request: ProduceRequest): Uint8Array => {
    const value = request.record?.value ?? EMPTY;
    checkRecordBytes(value.length, limits.recordBytesMax);
    return value;
  };

  /**
   * Where a stream starts: below the log is an error, beyond its end a wait. Node hands the server a
   * request before it has read the frames behind it, so a stream waits one event-loop turn before its
   * first read: a reset sent right behind the request (a rapid reset) is seen then, before any work.
   */
  const streamStart = async (offset: bigint, signal: AbortSignal): Promise<number> => {
    log.assertServing?.();
    if (offset < BigInt(log.lowestOffset) || offset > MAX_OFFSET) throw new OffsetOutOfRangeError(offset);
    await nextTurn();
    signal.throwIfAborted();
    return Number(offset);
  };

  /** A read's bounds: what the request asks for (or `bytesDefault`), capped by the limits. */
  const readLimits = (request: { maxRecords: number; maxBytes: number }, bytesDefault = limits.readBytesMax): { countMax: number; bytesMax: number } => ({
    countMax: Math.min(request.maxRecords || limits.readRecordsMax, limits.readRecordsMax),
    bytesMax: Math.min(request.maxBytes || bytesDefault, limits.readBytesMax),
  });
  // A stream's answers default to a quarter of its in-flight budget, so that a few are on their way
  // while the next is read and encoded (one answer the size of the budget would stop and start).
  const streamBytesDefault = Math.min(limits.readBytesMax, Math.floor(limits.streamBytesInFlightMax / 4));

  /**
   * Records from `at` on (at most the limits), waiting for the first one if `at` is the end. A call
   * that was cancelled, reset or cut off reads nothing more: streams ask before every read, so a
   * stream closed at offset 0 does not read the rest of the log into nowhere.
   */
  const readOrWait = async (at: number, bounds: { countMax: number; bytesMax: number }, signal: AbortSignal): Promise<LogRecord[]> => {
    signal.throwIfAborted();
    if (at >= log.nextOffset) await log.waitFor(at, signal);
    return counted(log.readRange(at, bounds));
  };

  /** Appends `values`, once per (producer, sequence) when the request names its producer; resolves with where they are. */
  const appendValues = (values: AppendValues, sent: ProducerBatch | undefined, context: CallContext): Promise<AppendedBatch> => {
    if (sent === undefined) return append(values, context).then((firstOffset) => ({ firstOffset, count: valueCount(values) }));
    const producer = ownedBy(sent, principalOf(context));
    return isGathered(values) ? appendGatheredOnce(values, producer) : producers.appendOnce(values, producer);
  };

  /** Appends one record (once per producer sequence); resolves with its offset. */
  const appendRecord = (request: ProduceRequest, context: CallContext): Promise<number> => {
    const values = [recordValue(request)];
    // Without a producer, straight to the log: no promise or object per record in between.
    if (request.producer === undefined) return append(values, context);
    return appendValues(values, request.producer, context).then((appended) => appended.firstOffset);
  };

  const produce: Unary<ProduceRequest, { offset: bigint }> = async (request, context) => {
    return { offset: BigInt(await appendRecord(request, context)) };
  };

  const consume: Unary<ConsumeRequest, { record: MessageInitShape<typeof RecordSchema> }> = async (request) => {
    const record = log.read(request.offset);
    recordsRead(1);
    return { record: toRecordMessage(record) };
  };

  async function* consumeStream(request: ConsumeRequest, context: CallContext) {
    const nextBounds = rampingBounds({ countMax: Math.min(limits.readRecordsMax, STREAM_READ_RECORDS_MAX), bytesMax: streamBytesDefault });
    for (let at = await streamStart(request.offset, context.signal); ; ) {
      for (const record of await readOrWait(at, nextBounds(), context.signal)) {
        // One read holds up to STREAM_READ_RECORDS_MAX records; a call closed meanwhile answers none of the rest.
        context.signal.throwIfAborted();
        yield { record: toRecordMessage(record) };
        at = record.offset + 1;
      }
    }
  }

  function produceStream(requests: AsyncIterable<ProduceRequest>, context: CallContext): AsyncGenerator<{ offset: bigint }> {
    return pipelineAppends(requests, context, (request) => {
      const offset = appendRecord(request, context);
      // Refused or not, a record naming a producer is decided by the table as the records before it
      // left it (SEQUENCE_TOO_OLD, say): it goes alone, and nothing after it before its answer.
      return { bytes: (request.record?.value.length ?? 0) + RECORD_IN_FLIGHT_OVERHEAD_BYTES, offset };
    }, limits.streamBytesInFlightMax, (request) => request.producer !== undefined);
  }

  const getServers: Unary<unknown, MessageInitShape<typeof GetServersResponseSchema>> = async () => {
    return { servers: [...options.servers()], clusterId: options.clusterId() ?? "" };
  };

  const produceBatch: Unary<ProduceBatchRequest | GatheredProduceBatchRequest, { firstOffset: bigint; count: number }> = async (request, context) => {
    const { values } = request;
    const count = valueCount(values);
    if (count === 0) throw new InvalidArgumentError("a batch needs at least one record");
    if (count > limits.batchRecordsMax) {
      throw new BatchTooLargeError(`batch of ${count} records exceeds batchRecordsMax ${limits.batchRecordsMax}`);
    }
    // A message may be larger than a record: each record is held to recordBytesMax here, before it
    // reaches a log (or a cluster's leader, whose log would refuse it only once it was proposed).
    checkRecordBytes(largestValueBytes(values), limits.recordBytesMax);
    const appended = await appendValues(values, request.producer, context);
    return { firstOffset: BigInt(appended.firstOffset), count: appended.count };
  };

  const consumeBatch: Unary<ConsumeBatchRequest, { records: MessageInitShape<typeof RecordSchema>[]; nextOffset: bigint; endOffset: bigint }> = async (
    request,
    context,
  ) => {
    log.assertServing?.();
    const end = log.nextOffset;
    if (request.offset < BigInt(log.lowestOffset) || request.offset > BigInt(end)) throw new OffsetOutOfRangeError(request.offset);
    const at = Number(request.offset);
    let records: LogRecord[] = [];
    if (at < end) {
      records = counted(log.readRange(at, readLimits(request)));
    } else if (request.maxWaitMs > 0) {
      records = await readAfterWait(at, readLimits(request), Math.min(request.maxWaitMs, limits.readWaitMsMax), context.signal);
    }
    return { records: records.map(toRecordMessage), nextOffset: BigInt(at + records.length), endOffset: BigInt(log.nextOffset) };
  };

  /** Waits up to `waitMs` for `at` to be written; no record in time is an empty answer, not an error. */
  const readAfterWait = async (at: number, bounds: { countMax: number; bytesMax: number }, waitMs: number, signal: AbortSignal): Promise<LogRecord[]> => {
    const timeout = AbortSignal.timeout(waitMs);
    try {
      return await readOrWait(at, bounds, AbortSignal.any([signal, timeout]));
    } catch (error) {
      if (timeout.aborted && !signal.aborted) return [];
      throw error;
    }
  };

  async function* consumeBatchStream(request: ConsumeBatchStreamRequest, context: CallContext) {
    const nextBounds = rampingBounds(readLimits(request, streamBytesDefault));
    for (let at = await streamStart(request.offset, context.signal); ; ) {
      const records = await readOrWait(at, nextBounds(), context.signal);
      at += records.length;
      yield { records: records.map(toRecordMessage), nextOffset: BigInt(at), endOffset: BigInt(log.nextOffset) };
    }
  }

  const offsetForTimestamp: Unary<OffsetForTimestampRequest, { offset: bigint; found: boolean }> = async (request) => {
    const offset = request.timestampMs > MAX_OFFSET ? undefined : log.offsetForTime(Number(request.timestampMs));
    return offset === undefined ? { offset: BigInt(log.nextOffset), found: false } : { offset: BigInt(offset), found: true };
  };

  const getOffsets: Unary<unknown, { lowestOffset: bigint; endOffset: bigint }> = async () => {
    log.assertServing?.();
    return { lowestOffset: BigInt(log.lowestOffset), endOffset: BigInt(log.nextOffset) };
  };

  const handlers = {
    produce,
    consume,
    consumeStream,
    produceStream,
    getServers,
    produceBatch,
    consumeBatch,
    consumeBatchStream,
    offsetForTimestamp,
    getOffsets,
  };
  return tracer === undefined ? handlers : traceProduces(handlers, tracer);
}

interface PendingAppend {
  readonly bytes: number;
  readonly offset: Promise<number>;
}

/**
 * Runs `append` for each request as it arrives and yields each acknowledgement in request order
 * once its append resolves, without waiting for one append before reading the next request (the
 * appends share group commits). Reading pauses while `bytesMax` of appends are unacknowledged, so a
 * client that sends faster than the disk syncs is held back by flow control. The first failure
 * ends the stream after the acknowledgements before it. A request refused at once (`append` throws:
 * a record over recordBytesMax) or one that goes `alone` and is refused leaves nothing after it
 * appended: a request `alone` waits for every append before it to settle, is not appended if one of
 * them failed, and the next is read only once it has settled. (Before, a refused record's successors
 * were appended and never acknowledged, and a client that sent them again wrote them twice.) After
 * any other failure (a disk, a lost leader), what was sent after it may have been appended.
 */
async function* pipelineAppends<Req>(
  requests: AsyncIterable<Req>,
  context: CallContext,
  append: (request: Req) => PendingAppend,
  bytesMax: number,
  alone: (request: Req) => boolean,
): AsyncGenerator<{ offset: bigint }> {
  const pending: PendingAppend[] = [];
  let bytesInFlight = 0;
  let failed = false;
  /** Appends started and not yet settled (the writer takes an append out of `pending` before it settles); a counter, not a chain of promises: it is per message. */
  let unsettled = 0;
  let wakeSettled: (() => void) | undefined;
  const settled = (): void => {
    if (--unsettled > 0) return;
    wakeSettled?.();
    wakeSettled = undefined;
  };
  const allSettled = async (): Promise<void> => {
    while (unsettled > 0) await new Promise<void>((resolve) => (wakeSettled = resolve));
  };
  let readerDone = false;
  let readerFailure: { error: unknown } | undefined;
  let stopped = false;
  let wakeWriter: (() => void) | undefined;
  let wakeReader: (() => void) | undefined;
  const iterator = requests[Symbol.asyncIterator]();

  const read = async (): Promise<void> => {
    try {
      for (;;) {
        while (bytesInFlight >= bytesMax && !stopped) await new Promise<void>((resolve) => (wakeReader = resolve));
        if (stopped) return;
        const next = await iterator.next();
        if (next.done === true || stopped) return;
        const single = alone(next.value);
        if (single) await allSettled();
        if (failed || stopped) return;
        const appended = append(next.value);
        // Observed in order by the writer below; here only whether any failed.
        unsettled++;
        appended.offset.then(settled, () => {
          failed = true;
          settled();
        });
        pending.push(appended);
        bytesInFlight += appended.bytes;
        wakeWriter?.();
        if (single) await allSettled();
      }
    } catch (error) {
      readerFailure = { error };
    } finally {
      readerDone = true;
      wakeWriter?.();
    }
  };
  void read();

  try {
    for (;;) {
      const next = pending.shift();
      if (next === undefined) {
        if (readerDone) {
          if (readerFailure !== undefined) throw readerFailure.error;
          return;
        }
        await new Promise<void>((resolve) => (wakeWriter = resolve));
        wakeWriter = undefined;
        continue;
      }
      const offset = await next.offset;
      bytesInFlight -= next.bytes;
      wakeReader?.();
      wakeReader = undefined;
      yield { offset: BigInt(offset) };
    }
  } finally {
    stopped = true;
    wakeReader?.();
    if (!readerDone && !context.signal.aborted) void iterator.return?.();
  }
}
