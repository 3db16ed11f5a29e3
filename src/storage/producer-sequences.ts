// What the log remembers of its idempotent producers: for each of the latest producersMax
// producers (least recently appended forgotten first), the offsets of its latest
// sequencesPerProducerMax batches, and the highest batch number it forgot. It is derived from the
// batch marks in the log alone, observed in log order, so every replica that applied the same
// entries holds the same table, and a node rebuilds it by reading its log again.
//
// A batch number is either remembered (a duplicate: answer its offsets), at or below the highest
// forgotten one (too old: it may have been appended, refuse it), or new (append it). Numbers need
// not be consecutive: they are ids that grow, so a producer's concurrent batches may land in any
// order. (Kafka refuses gaps because it also promises order; a producer here keeps its order by
// having one batch in flight.)
//
// A producer is its owner (the principal that sent it, on a node with an ACL) and its id together:
// two principals that pick the same id are two producers. A batch sent before its producer had an
// owner (before an upgrade to this release, or before an ACL was added) is remembered under the
// bare id: a retry of it after the change is not recognised, and may be appended again. Looking
// under the bare id as well would let a principal probe another's batches (an owned id is a
// tag, computable from a name, and an id), so it is not done.
import assert from "node:assert/strict";
import { InvalidConfigError, SequenceTooOldError } from "../errors.ts";
import { rejectUnknownKeys } from "../config-checks.ts";
import { storedProducerId, type BatchMark, type ProducerBatch } from "./batch-mark.ts";

export interface ProducerLimits {
  /** Producers remembered; the least recently appended is forgotten first. Default 4,096. */
  readonly producersMax: number;
  /** Batches remembered per producer (its window); the oldest appended is forgotten first. Default 128. */
  readonly sequencesPerProducerMax: number;
  /** Records a single node reads back from the end of its log at start to rebuild the table. Default 1,000,000. */
  readonly scanRecordsMax: number;
}

export const defaultProducerLimits: ProducerLimits = { producersMax: 4_096, sequencesPerProducerMax: 128, scanRecordsMax: 1_000_000 };

/** The limits with defaults filled in; InvalidConfigError names the first one out of range. */
export function resolveProducerLimits(input: Partial<ProducerLimits> = {}): ProducerLimits {
  rejectUnknownKeys(input, defaultProducerLimits, "producers limit");
  const limits = { ...defaultProducerLimits, ...input };
  const ranges: ReadonlyArray<[keyof ProducerLimits, number, number]> = [
    ["producersMax", 1, 1_000_000],
    ["sequencesPerProducerMax", 1, 100_000],
    ["scanRecordsMax", 0, 1_000_000_000],
  ];
  for (const [name, min, max] of ranges) {
    const value = limits[name];
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new InvalidConfigError(`producers.${name} must be an integer in [${min}, ${max}], got ${value}`);
  }
  return limits;
}

/** Where a batch's records are: values[i] is at firstOffset + i. */
export interface AppendedBatch {
  readonly firstOffset: number;
  readonly count: number;
}

interface ProducerWindow {
  /** Batch number → where it was appended, in the order they were appended. */
  readonly batches: Map<bigint, AppendedBatch>;
  /** The highest batch number forgotten (-1: none). */
  forgottenMax: bigint;
}

/** The producer's name in the table and in messages: its id as a mark stores it, in hex. */
export function producerKey(batch: ProducerBatch): string {
  const id = storedProducerId(batch);
  return Buffer.from(id.buffer, id.byteOffset, id.byteLength).toString("hex");
}

export class ProducerSequences {
  /** Producers in the order they last appended (a Map keeps insertion order). */
  private readonly producers = new Map<string, ProducerWindow>();

  constructor(private readonly limits: Pick<ProducerLimits, "producersMax" | "sequencesPerProducerMax">) {}

  /** Producers remembered. */
  get size(): number {
    return this.producers.size;
  }

  /** Where `batch` was appended if it was and is remembered; undefined if it is new; SequenceTooOldError if too old to tell. */
  lookup(batch: ProducerBatch): AppendedBatch | undefined {
    const window = this.producers.get(producerKey(batch));
    if (window === undefined) return undefined;
    const appended = window.batches.get(batch.sequence);
    if (appended !== undefined) return appended;
    if (batch.sequence <= window.forgottenMax) {
      throw new SequenceTooOldError(`producer sequence ${batch.sequence} is at or below ${window.forgottenMax}, the latest this log forgot for that producer: it may have been appended already`);
    }
    return undefined;
  }

  /** Notes the mark of a batch whose first record is at `markOffset + 1`; seeing a mark again changes nothing. */
  observe(mark: BatchMark, markOffset: number): void {
    assert.ok(Number.isSafeInteger(markOffset) && markOffset >= 0, "a batch mark has an offset");
    const key = producerKey(mark);
    let window = this.producers.get(key);
    if (window === undefined) {
      window = { batches: new Map(), forgottenMax: -1n };
    } else {
      this.producers.delete(key);
    }
    this.producers.set(key, window);
    if (!window.batches.has(mark.sequence) && mark.sequence > window.forgottenMax) {
      window.batches.set(mark.sequence, { firstOffset: markOffset + 1, count: mark.count });
    }
    for (const [sequence] of window.batches) {
      if (window.batches.size <= this.limits.sequencesPerProducerMax) break;
      window.batches.delete(sequence);
      if (sequence > window.forgottenMax) window.forgottenMax = sequence;
    }
    for (const [oldest] of this.producers) {
      if (this.producers.size <= this.limits.producersMax) break;
      this.producers.delete(oldest);
    }
  }
}
