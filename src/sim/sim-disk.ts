// A simulated server's disk under its data log: what survives a crash, and the faults a real disk
// commits. The log (sim-log.ts) writes records here; a crash (`crash`) decides what the next process
// finds, as a power loss would:
//  - records synced stay; records written but not synced may survive in part (the page cache wrote
//    some back), the last of them possibly torn (its checksum then fails and recovery cuts it);
//  - directory-level changes (a truncation removing segment files, a reset to a new start point) are
//    undone unless the directory was synced after them: the removed records come back, beyond
//    whatever was synced over them since;
// and at any time synced records may suffer a bit flip or a lost write in their value (their term
// survives, as a run's metadata does in the index), which their checksum reveals on read
// (DataLossError), and the disk may fill up (`full`).
import { assert } from "../raft/assert.ts";
import type { SeededRandom } from "../raft/random.ts";

/** One record as stored: its metadata, its value, and the checksum written with them. */
export interface StoredRecord {
  readonly term: number;
  readonly type: number;
  readonly timestampMs: number;
  readonly value: Buffer;
  readonly checksum: number;
}

/** A write that reached the disk but not yet its sync. */
interface UnsyncedWrite {
  readonly offset: number;
  readonly record: StoredRecord;
}

export class SimDisk {
  /** Offset of the first record of the durable image. */
  private durableStart = 0;
  /** The durable image from durableStart: record i is at offset durableStart + i. */
  private durable: StoredRecord[] = [];
  /** Offset from which the durable image was not verified since the last sync (recovery scans from here). */
  private verifiedEnd = 0;
  private unsynced: UnsyncedWrite[] = [];
  /** Incremented by every crash: writes of an older process generation are ignored. */
  private generationCount = 0;

  /** While set, writes fail with no room (ENOSPC) until space is freed. */
  full = false;

  /** The process generation now writing (a crash starts a new one). */
  get generation(): number {
    return this.generationCount;
  }

  get start(): number {
    return this.durableStart;
  }

  /** The records a freshly started process finds, before recovery checks the unverified tail. */
  records(): readonly StoredRecord[] {
    return this.durable;
  }

  /** Offset after the last synced record: recovery verifies the records from here on. */
  get syncedEnd(): number {
    return this.verifiedEnd;
  }

  /** A write submitted by generation `generation`: on the disk, not yet synced. */
  write(generation: number, offset: number, record: StoredRecord): void {
    if (generation !== this.generationCount) return;
    assert(offset >= this.durableStart, `write at ${offset} before the start ${this.durableStart}`);
    this.unsynced.push({ offset, record });
  }

  /** fdatasync: every write so far is durable, laid over the image at its offset. */
  sync(generation: number): void {
    if (generation !== this.generationCount) return;
    for (const { offset, record } of this.unsynced) this.place(offset, record);
    this.unsynced = [];
    this.verifiedEnd = this.durableStart + this.durable.length;
  }

  /** A directory sync after a truncation: the records from `end` on are gone for good. */
  cut(generation: number, end: number): void {
    if (generation !== this.generationCount) return;
    assert(this.unsynced.length === 0, "a truncation waits for the writes before it");
    const keep = Math.max(0, end - this.durableStart);
    if (keep < this.durable.length) this.durable.length = keep;
    this.verifiedEnd = Math.min(this.verifiedEnd, this.durableStart + this.durable.length);
  }

  /** A directory sync after a reset: the image is empty and starts at `offset`. */
  reset(generation: number, offset: number): void {
    if (generation !== this.generationCount) return;
    assert(this.unsynced.length === 0, "a reset waits for the writes before it");
    this.durableStart = offset;
    this.durable = [];
    this.verifiedEnd = offset;
  }

  /** Recovery cut a torn or corrupt tail at `end`. */
  recover(end: number): void {
    this.cut(this.generationCount, end);
    this.verifiedEnd = this.durableStart + this.durable.length;
  }

  /**
   * A power loss: unsynced writes survive as a random prefix, the last one kept possibly torn (its
   * value damaged under an intact checksum, as a half-written frame looks to recovery).
   */
  crash(random: SeededRandom): void {
    this.generationCount++;
    const kept = random.intBelow(this.unsynced.length + 1);
    const surviving = this.unsynced.slice(0, kept);
    this.unsynced = [];
    surviving.forEach(({ offset, record }, i) => {
      const torn = i === surviving.length - 1 && random.chance(0.5);
      this.place(offset, torn ? damaged(record, random) : record);
    });
  }

  /** A bit flip (or a lost write, when `lost`) in a synced record at `offset`, which must be in the image. */
  damage(offset: number, random: SeededRandom, lost: boolean): void {
    const at = offset - this.durableStart;
    assert(at >= 0 && at < this.durable.length, `no synced record at ${offset} to damage`);
    const record = this.durable[at]!;
    this.durable[at] = lost ? { ...record, value: Buffer.alloc(record.value.length, 0), checksum: record.checksum ^ 1 } : damaged(record, random);
  }

  /** Offsets of synced records that fail their checksums (what the log's scrub would report). */
  damagedOffsets(): number[] {
    const damaged: number[] = [];
    for (let offset = this.durableStart; offset < this.verifiedEnd; offset++) {
      if (!checksumHolds(this.durable[offset - this.durableStart]!)) damaged.push(offset);
    }
    return damaged;
  }

  /** The intact synced record at `offset`, if this disk holds one. */
  intactRecord(offset: number): StoredRecord | undefined {
    if (offset < this.durableStart || offset >= this.verifiedEnd) return undefined;
    const record = this.durable[offset - this.durableStart]!;
    return checksumHolds(record) ? record : undefined;
  }

  /**
   * Puts a peer's copy in place of the damaged record at `offset`. Like the log's replaceRange, it
   * takes only a record of the term this disk still holds there (by Log Matching, the same record).
   */
  restore(offset: number, record: StoredRecord): boolean {
    const at = offset - this.durableStart;
    assert(at >= 0 && at < this.durable.length, `no record at ${offset} to restore`);
    if (this.durable[at]!.term !== record.term || !checksumHolds(record)) return false;
    this.durable[at] = record;
    return true;
  }

  private place(offset: number, record: StoredRecord): void {
    const at = offset - this.durableStart;
    assert(at >= 0 && at <= this.durable.length, `write at ${offset} leaves a gap after ${this.durableStart + this.durable.length}`);
    this.durable[at] = record;
  }

}

/** The checksum stored with a record, over its metadata and value (FNV-1a; the native log uses CRC32C). */
export function recordChecksum(term: number, type: number, timestampMs: number, value: Uint8Array): number {
  let hash = 0x811c9dc5;
  for (const field of [term % 2 ** 32, Math.floor(term / 2 ** 32), type, timestampMs % 2 ** 32, Math.floor(timestampMs / 2 ** 32), value.length]) {
    hash = Math.imul(hash ^ field, 0x01000193) >>> 0;
  }
  for (let i = 0; i < value.length; i++) hash = Math.imul(hash ^ value[i]!, 0x01000193) >>> 0;
  return hash;
}

export function checksumHolds(record: StoredRecord): boolean {
  return recordChecksum(record.term, record.type, record.timestampMs, record.value) === record.checksum;
}

/** The record with one bit of its value (or, when empty, of its checksum) flipped. */
function damaged(record: StoredRecord, random: SeededRandom): StoredRecord {
  if (record.value.length === 0) return { ...record, checksum: record.checksum ^ 1 };
  const value = Buffer.from(record.value);
  const at = random.intBelow(value.length);
  value[at] = value[at]! ^ (1 << random.intBelow(8));
  return { ...record, value };
}
