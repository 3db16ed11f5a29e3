// The idempotent producer on a single node: a batch's mark and its records are appended to the
// node's Log as one unit (Log.appendTogether: consecutive offsets, one commit, shown to readers
// together), and the table of producers is rebuilt at start from the marks in the last
// scanRecordsMax records of the log. A crash can tear a batch off the end of the log after its mark
// (neither was acknowledged, nor read): opening cuts the log back to before that mark, so that no
// later record is ever taken for part of the batch. A mark dropped by retention, older than the
// scan, or damaged on disk (its checksum fails), is forgotten: its producer starts afresh. Damage
// is never a reason not to start: the scan steps over a damaged record, which readers are told of
// (DATA_LOSS) as they reach it.
import assert from "node:assert/strict";
import { checkBatch, measureGathered, measureValues, type MeasuredBatch } from "./append-batch.ts";
import { BATCH_MARK_TYPE, decodeBatchMark, type BatchMark, type ProducerBatch } from "./batch-mark.ts";
import type { AppendValues, GatheredValues } from "./gathered-values.ts";
import type { Log } from "./log.ts";
import { ProducerAppends, storedValuesIn } from "./producer-appends.ts";
import type { AppendedBatch, ProducerLimits, ProducerTableOptions } from "./producer-sequences.ts";
import { unlessDamaged } from "./record-log.ts";

/** Records read per step of the start-up scan. */
const SCAN_STEP_RECORDS = 10_000;

/** What the RPC layer calls to append an idempotent producer's batch once. */
export interface ProducerAppender {
  /** Appends `values` as `batch` unless it was appended already; resolves with where its records are. */
  appendOnce(values: readonly Uint8Array[], batch: ProducerBatch): Promise<AppendedBatch>;
  /**
   * appendOnce for values gathered in one buffer, offered where the log frames them straight from it
   * (see ServedLog.appendGathered): a single node's producers.
   */
  appendGatheredOnce?(batch: GatheredValues, producer: ProducerBatch): Promise<AppendedBatch>;
}

/** A batch that open() cut off the end of the log because its records ended before its mark's count. */
export interface TornBatchCut {
  /** The mark's offset: the log now ends just before it. */
  readonly markOffset: number;
  /** Records the mark counted, and how many of them were in the log. */
  readonly counted: number;
  readonly found: number;
}

export class LogProducers implements ProducerAppender {
  private constructor(
    private readonly log: Log,
    private readonly appends: ProducerAppends,
    /** The batch open() cut, if it cut one: the caller logs it (it removes records, some possibly in sealed segments). */
    readonly tornBatchCut: TornBatchCut | undefined,
  ) {}

  /** Builds the table from the marks at the end of `log` (open, and appended to by nothing yet), first cutting a torn batch off its end. */
  static async open(log: Log, limits: ProducerLimits & Pick<ProducerTableOptions, "ownedIds">): Promise<LogProducers> {
    const appends = new ProducerAppends(limits, storedValuesIn(log));
    let last: { mark: BatchMark; offset: number } | undefined;
    for (let at = Math.max(log.lowestOffset, log.nextOffset - limits.scanRecordsMax); at < log.nextOffset; ) {
      // A read stops before a damaged record; one that starts at it throws DataLossError.
      const records = unlessDamaged(() => log.readRange(at, { countMax: SCAN_STEP_RECORDS }));
      if (records === undefined) {
        at += 1;
        continue;
      }
      assert.ok(records.length > 0, "a read below the end of the log returns records");
      for (const record of records) {
        if (record.type !== BATCH_MARK_TYPE) continue;
        if (last !== undefined) appends.applied(last.mark, last.offset);
        last = { mark: decodeBatchMark(record.value), offset: record.offset };
      }
      at += records.length;
    }
    let cut: TornBatchCut | undefined;
    if (last !== undefined && last.offset + last.mark.count >= log.nextOffset) {
      cut = { markOffset: last.offset, counted: last.mark.count, found: log.nextOffset - last.offset - 1 };
      await log.truncateAfter(last.offset - 1);
    } else if (last !== undefined) {
      appends.applied(last.mark, last.offset);
    }
    return new LogProducers(log, appends, cut);
  }

  appendOnce(values: readonly Uint8Array[], batch: ProducerBatch): Promise<AppendedBatch> {
    return this.appendMarkedOnce(values, batch, measureValues);
  }

  appendGatheredOnce(values: GatheredValues, batch: ProducerBatch): Promise<AppendedBatch> {
    return this.appendMarkedOnce(values, batch, measureGathered);
  }

  /** appendOnce for values in either shape, each measured by `measure`. */
  private appendMarkedOnce<V extends AppendValues>(values: V, batch: ProducerBatch, measure: (values: V) => MeasuredBatch): Promise<AppendedBatch> {
    return this.appends.appendOnce(values, batch, (batchValues, mark) => {
      // Both are checked before either is queued: a batch the log refuses (a record over
      // recordBytesMax, say, from any caller that did not check it first) must leave no mark, or the
      // next start would take the records after that mark for the batch and cut them off the log.
      // Past the checks they go as one append: both, or neither.
      const checked = checkBatch(measure(batchValues), {}, this.log.config);
      const marked = checkBatch(measureValues([mark]), { type: BATCH_MARK_TYPE }, this.log.config);
      return this.log.appendTogether([marked, checked]).then(
        (markOffset) => {
          this.appends.applied(decodeBatchMark(mark), markOffset);
          return markOffset + 1;
        },
        (error: unknown) => {
          // A failed append fails the log's appends from there on (its tail is cut back on reopen).
          this.appends.forget(batch);
          throw error;
        },
      );
    });
  }
}

