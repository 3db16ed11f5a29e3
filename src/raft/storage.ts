import type { Entry, HardState, SnapshotPoint } from "./types.ts";

/**
 * The durable log as the Raft core reads it. The core never writes through this interface: the driver
 * persists what a `Ready` asks for (entries, hard state, snapshot point) and then calls `advance`.
 *
 * The log holds entries with indexes [firstIndex, lastIndex]; the entry before them is described by the
 * snapshot point (index firstIndex - 1). An empty log has firstIndex = lastIndex + 1.
 *
 * It maps onto Loghouse's native log: the entry index is the record offset, and each record stores its
 * term and its type. Implementations must answer from what has been persisted, synchronously.
 */
export interface Storage {
  /** The hard state last persisted (all zero for a new node). */
  hardState(): HardState;
  /** The start point of the log: everything at or before `index` is gone (index 0 for a new log). */
  snapshot(): SnapshotPoint;
  /** snapshot().index + 1. */
  firstIndex(): number;
  /** The index of the last entry, or snapshot().index when the log is empty. */
  lastIndex(): number;
  /**
   * The term of the entry at `index`, for index in [firstIndex - 1, lastIndex] (firstIndex - 1 gives the
   * snapshot term). Returns undefined outside that range; never throws for a well-formed index.
   */
  term(index: number): number | undefined;
  /**
   * Entries with indexes in [low, high), in order, stopping early once their `entryBytes` would exceed
   * `bytesMax` but always returning at least one entry when low < high. A storage may also stop
   * earlier (still at least one entry), to bound one read from a slower medium: callers that need
   * the whole range ask again from where the answer ended.
   * Requires firstIndex <= low <= high <= lastIndex + 1 (an assertion, not an operating error).
   * The returned array may be one the storage keeps (it must not be changed); the entries are shared and immutable.
   */
  entries(low: number, high: number, bytesMax: number): readonly Entry[];
}
