// The idempotent producer's rule at the node that appends (a single node, or a cluster's leader):
// a batch already appended is answered with its offsets, one in flight is waited for, and only a
// new one is written, followed by its batch mark. The table of what was appended
// (ProducerSequences) changes only as marks are applied, in log order; this class adds the batches
// written here and not yet applied, so that a retry arriving while its original is still on its way
// (proposed, not committed) waits for the original's outcome instead of appending it again.
//
// A retry is answered with the original's offsets only if the log holds the retry's own records
// there: anyone who can produce can send a batch under another producer's id and its next number
// (ids are in the marks readers see), and answering the true owner's batch with those offsets
// would acknowledge records that were never written. The records are read back and compared only
// on a retry, which is rare; the first append of a batch pays nothing for it.
//
// The owner reports outcomes: applied(mark) once a mark is in the table (for a cluster, when its
// entry is applied; for a single node, once the append is durable), forget(batch) when a write
// certainly left nothing behind, abandon(error) when this node can no longer learn the outcome of
// what it wrote (a leader that lost its leadership: a retry must go to the new leader).
import { SequenceReusedError } from "../errors.ts";
import { checkProducerBatch, encodeBatchMark, type BatchMark, type ProducerBatch } from "./batch-mark.ts";
import { isGathered, valueCount, valueViews, type AppendValues } from "./gathered-values.ts";
import { unlessDamaged, type RecordLog } from "./record-log.ts";
import { producerKey, ProducerSequences, type AppendedBatch, type ProducerTableOptions } from "./producer-sequences.ts";

/**
 * Writes `values` and then `mark` as one unit (both or neither end up in the log); resolves with the
 * first value's offset once durable. When it refuses, having written nothing, it throws, or calls
 * forget(batch) before its promise rejects: either way a retry then writes the batch itself.
 */
export type MarkedWrite<V extends AppendValues = readonly Uint8Array[]> = (values: V, mark: Uint8Array) => Promise<number>;

/** The values of the `count` records from `firstOffset` on, as the log holds them; undefined once it no longer holds them all. */
export type StoredValues = (firstOffset: number, count: number) => readonly Uint8Array[] | undefined;

/**
 * StoredValues read from `log` (a log, or the committed part of a replica's). Records it cannot read
 * back (damaged: DATA_LOSS) cannot be compared either, and count as gone.
 */
export function storedValuesIn(log: Pick<RecordLog, "lowestOffset" | "readRange">): StoredValues {
  return (firstOffset, count) => {
    if (firstOffset < log.lowestOffset) return undefined;
    const values: Uint8Array[] = [];
    while (values.length < count) {
      const records = unlessDamaged(() => log.readRange(firstOffset + values.length, { countMax: count - values.length }));
      if (records === undefined || records.length === 0) return undefined;
      for (const record of records) values.push(record.value);
    }
    return values;
  };
}

interface InFlight {
  readonly settled: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class ProducerAppends {
  readonly sequences: ProducerSequences;
  /** Batches written here whose outcome is not known yet, by producer key and sequence. */
  private readonly inFlight = new Map<string, InFlight>();

  constructor(
    limits: ProducerTableOptions,
    /** Where a retry's records are read back from, to be compared with the original's. */
    private readonly stored: StoredValues,
  ) {
    this.sequences = new ProducerSequences(limits);
  }

  /**
   * Appends `values` as `batch` unless it was appended already: resolves with where its records
   * are (the original's place for a retry). SequenceTooOldError when the batch is too old to tell;
   * SequenceReusedError when the log holds other records under its producer and number.
   * `values` reach `write` in the shape given (an array, or gathered for a log that takes that).
   */
  async appendOnce<V extends AppendValues>(values: V, batch: ProducerBatch, write: MarkedWrite<V>): Promise<AppendedBatch> {
    checkProducerBatch(batch);
    const count = valueCount(values);
    const key = inFlightKey(batch);
    for (;;) {
      const pending = this.inFlight.get(key);
      if (pending !== undefined) {
        // The outcome of the original decides; then look again (applied: its offsets; forgotten: write it).
        await pending.settled;
        continue;
      }
      const appended = this.sequences.lookup(batch);
      if (appended !== undefined) {
        this.checkSameRecords(values, batch, appended);
        return appended;
      }
      let resolve!: () => void;
      let reject!: (error: unknown) => void;
      const settled = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      settled.catch(() => undefined); // observed by the retries that wait on it, if any
      // In flight before the write starts, so that a refusal reported from inside it (forget) finds it.
      this.inFlight.set(key, { settled, resolve, reject });
      let written: Promise<number>;
      try {
        written = write(values, encodeBatchMark({ ...batch, count }));
      } catch (error) {
        this.release(batch);
        throw error;
      }
      return { firstOffset: await written, count };
    }
  }

  /**
   * Throws SequenceReusedError unless the records held at `appended` are `values`. Records the log no
   * longer holds (retention) cannot be compared, and the batch is answered as before.
   */
  private checkSameRecords(values: AppendValues, batch: ProducerBatch, appended: AppendedBatch): void {
    // A different count needs no reading back (a one-record request naming a large batch must not read it).
    const held = valueCount(values) === appended.count ? this.stored(appended.firstOffset, appended.count) : [];
    if (held === undefined) return;
    const given = isGathered(values) ? valueViews(values) : values;
    if (given.length === held.length && given.every((value, i) => Buffer.from(value.buffer, value.byteOffset, value.byteLength).equals(held[i]!))) return;
    const last = appended.firstOffset + appended.count - 1;
    throw new SequenceReusedError(
      `producer ${producerKey(batch)} sequence ${batch.sequence} was appended at offsets ${appended.firstOffset}..${last} with other records: ` +
        `a producer id must be one producer's (another client is using it, or this one reused a sequence number); nothing was appended`,
    );
  }

  /** A batch mark at `markOffset` is in the log for good: remember it and release retries waiting on it. */
  applied(mark: BatchMark, markOffset: number): void {
    this.sequences.observe(mark, markOffset);
    this.release(mark);
  }

  /** A write of `batch` here certainly left nothing: retries waiting on it write it themselves. */
  forget(batch: ProducerBatch): void {
    this.release(batch);
  }

  /** The outcome of every batch in flight here is out of this node's hands: retries waiting on them fail with `error`. */
  abandon(error: unknown): void {
    for (const pending of this.inFlight.values()) pending.reject(error);
    this.inFlight.clear();
  }

  private release(batch: ProducerBatch): void {
    const key = inFlightKey(batch);
    this.inFlight.get(key)?.resolve();
    this.inFlight.delete(key);
  }
}

function inFlightKey(batch: ProducerBatch): string {
  return `${producerKey(batch)}:${batch.sequence}`;
}
