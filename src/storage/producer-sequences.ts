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
//
// Where ids carry their owner's tag (ownedIds: a node with an ACL), a full table forgets the least
// recently appended producer of the owner that holds the most (among equals, the one seen first),
// not the least recently appended of all: a principal that makes up ids by the thousand pushes
// out its own producers first, and others' only down to its own share. Ids stored without a tag
// (before the ACL) count as owners of their own, keyed by their first 8 bytes.
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

/** How a table of producers is bounded. */
export interface ProducerTableOptions extends Pick<ProducerLimits, "producersMax" | "sequencesPerProducerMax"> {
  /** Whether stored ids begin with their owner's tag (a node with an ACL): a full table then forgets by owner. */
  readonly ownedIds?: boolean;
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

/** The owner part of a producer's key where ids carry a tag: the tag's 8 bytes in hex. */
function ownerOfKey(key: string): string {
  return key.slice(0, 16);
}

export class ProducerSequences {
  /** Producers in the order they last appended (a Map keeps insertion order). */
  private readonly producers = new Map<string, ProducerWindow>();
  /** With ownedIds: each owner's producers, in the order they last appended. */
  private readonly owners = new Map<string, Set<string>>();

  constructor(private readonly limits: ProducerTableOptions) {}

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
    if (this.limits.ownedIds === true) this.touchOwned(key);
    if (!window.batches.has(mark.sequence) && mark.sequence > window.forgottenMax) {
      window.batches.set(mark.sequence, { firstOffset: markOffset + 1, count: mark.count });
    }
    for (const [sequence] of window.batches) {
      if (window.batches.size <= this.limits.sequencesPerProducerMax) break;
      window.batches.delete(sequence);
      if (sequence > window.forgottenMax) window.forgottenMax = sequence;
    }
    while (this.producers.size > this.limits.producersMax) this.forgetOne();
  }

  /** Moves `key` to the end of its owner's producers. */
  private touchOwned(key: string): void {
    const owner = ownerOfKey(key);
    let keys = this.owners.get(owner);
    if (keys === undefined) this.owners.set(owner, (keys = new Set()));
    keys.delete(key);
    keys.add(key);
  }

  /** Forgets the least recently appended producer: of all, or (ownedIds) of the owner holding the most. */
  private forgetOne(): void {
    if (this.limits.ownedIds !== true) {
      this.producers.delete(this.producers.keys().next().value!);
      return;
    }
    // The owner holding the most (among equals, the one seen first): one pass over the owners.
    let chosen: Set<string> | undefined;
    for (const keys of this.owners.values()) if (chosen === undefined || keys.size > chosen.size) chosen = keys;
    const oldest = chosen!.values().next().value!;
    chosen!.delete(oldest);
    if (chosen!.size === 0) this.owners.delete(ownerOfKey(oldest));
    this.producers.delete(oldest);
  }
}
