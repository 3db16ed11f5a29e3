// The idempotent producer on a single node: batches and their marks are appended to the node's Log
// (the batch, then its mark, as two appends made in the same turn, which the Log gives consecutive
// offsets and commits in order), and the table of producers is rebuilt at start from the marks in
// the last scanRecordsMax records of the log. A mark dropped by retention, or older than the scan,
// is forgotten: its producer starts afresh.
import assert from "node:assert/strict";
import { BATCH_MARK_TYPE, decodeBatchMark, type ProducerBatch } from "./batch-mark.ts";
import type { Log } from "./log.ts";
import { ProducerAppends } from "./producer-appends.ts";
import type { AppendedBatch, ProducerLimits } from "./producer-sequences.ts";

/** Records read per step of the start-up scan. */
const SCAN_STEP_RECORDS = 10_000;

/** What the RPC layer calls to append an idempotent producer's batch once. */
export interface ProducerAppender {
  /** Appends `values` as `batch` unless it was appended already; resolves with where its records are. */
  appendOnce(values: readonly Uint8Array[], batch: ProducerBatch): Promise<AppendedBatch>;
}

export class LogProducers implements ProducerAppender {
  private readonly appends: ProducerAppends;

  /** Builds the table from the marks at the end of `log` (an open log that nothing appends to yet). */
  constructor(
    private readonly log: Log,
    limits: ProducerLimits,
  ) {
    this.appends = new ProducerAppends(limits);
    for (let at = Math.max(log.lowestOffset, log.nextOffset - limits.scanRecordsMax); at < log.nextOffset; ) {
      const records = log.readRange(at, { countMax: SCAN_STEP_RECORDS });
      assert.ok(records.length > 0, "a read below the end of the log returns records");
      for (const record of records) {
        if (record.type === BATCH_MARK_TYPE) this.appends.applied(decodeBatchMark(record.value), record.offset);
      }
      at += records.length;
    }
  }

  appendOnce(values: readonly Uint8Array[], batch: ProducerBatch): Promise<AppendedBatch> {
    return this.appends.appendOnce(values, batch, (batchValues, mark) => {
      // The RPC layer has checked the batch against limits the log's own are validated to admit
      // (server config), so neither append is refused alone: both go, or a closed log fails both.
      const first = this.log.append(batchValues);
      const marked = this.log.append([mark], { type: BATCH_MARK_TYPE });
      return Promise.all([first, marked]).then(
        ([firstOffset, markOffset]) => {
          assert.equal(markOffset, firstOffset + batchValues.length, "a batch mark follows its records");
          this.appends.applied(decodeBatchMark(mark), markOffset);
          return firstOffset;
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
