// The Raft core's Storage over Loghouse's native log: the Raft log is the data log. Entry index i is
// record offset i - 1 (Raft counts from 1, the log from 0), and each record stores the entry's term
// and type. The start point (snapshot) and hard state come from the RaftStateFile beside the log.
// Entries just written are read from memory (RecentEntries) rather than decoded back from the store.
import assert from "node:assert/strict";
import type { Entry, EntryType, HardState, SnapshotPoint, Storage } from "../raft/index.ts";
import type { RecordLog } from "../storage/index.ts";
import type { RaftStateFile } from "./raft-state-file.ts";
import type { RecentEntries } from "./recent-entries.ts";

/**
 * The most one call reads back from the log (entries not in RecentEntries): the Storage contract
 * lets it answer in parts. Applying a backlog of 32 MiB of 100-byte records from the log in one
 * read held the event loop for 0.5-0.6 s here, longer than an election timeout; 4 MiB, 40-130 ms.
 */
const LOG_READ_BYTES_MAX = 4 << 20;

/** Raft index of the record at `offset`. */
export function indexOfOffset(offset: number): number {
  return offset + 1;
}

/** Record offset of the Raft entry at `index` (index >= 1). */
export function offsetOfIndex(index: number): number {
  assert.ok(index >= 1, `raft index ${index} has no record`);
  return index - 1;
}

/**
 * Makes the log start at the start point the state file records. A crash between installing a start
 * point in the log and recording it in the state file leaves the log starting elsewhere; nothing
 * written since was acknowledged, so the log starts over from the recorded point and the leader
 * sends the rest again. Run at every start, before the replica is built over the two.
 */
export async function alignWithStartPoint(log: RecordLog, stateFile: RaftStateFile): Promise<void> {
  const start = stateFile.state.snapshot.index;
  if (log.lowestOffset !== start) await log.resetTo(start);
  assert.equal(log.lowestOffset, start, "the log starts at the recorded start point");
}

export class LogStorage implements Storage {
  constructor(
    private readonly log: RecordLog,
    private readonly stateFile: RaftStateFile,
    private readonly recent: RecentEntries,
  ) {
    assert.equal(stateFile.state.snapshot.index, log.lowestOffset, "the log starts right after the snapshot point");
  }

  hardState(): HardState {
    return this.stateFile.state.hardState;
  }

  snapshot(): SnapshotPoint {
    return this.stateFile.state.snapshot;
  }

  firstIndex(): number {
    return indexOfOffset(this.log.lowestOffset);
  }

  lastIndex(): number {
    return this.log.nextOffset;
  }

  term(index: number): number | undefined {
    const point = this.snapshot();
    if (index === point.index) return point.term;
    if (index < this.firstIndex() || index > this.lastIndex()) return undefined;
    return this.log.termAt(offsetOfIndex(index));
  }

  entries(low: number, high: number, bytesMax: number): readonly Entry[] {
    assert.ok(low >= this.firstIndex() && low <= high && high <= this.lastIndex() + 1, `entries [${low}, ${high}) outside the log`);
    const recent = this.recent.slice(low, high, bytesMax);
    if (recent !== undefined) return recent;
    // The byte budget is in stored bytes; a record always comes back even when it alone is larger.
    const records = this.log.readRange(offsetOfIndex(low), { countMax: high - low, bytesMax: Math.max(0, Math.min(bytesMax, LOG_READ_BYTES_MAX)) });
    return records.map((record) => ({
      index: indexOfOffset(record.offset),
      term: record.term,
      type: record.type as EntryType,
      data: record.value,
      timestampMs: record.timestampMs,
    }));
  }
}
