import type { Message } from "./message.ts";
import type { Entry, HardState, Role, SnapshotPoint } from "./types.ts";

/** Volatile facts about a node, reported when they change (never persisted). */
export interface SoftState {
  readonly lead: number;
  readonly role: Role;
}

/**
 * What the driver must do next, in this order:
 *  1. send `messages` (they may go at once, in parallel with the writes below);
 *  2. install `snapshot` if set (the log before and at it is gone), then append `entries` (dropping any
 *     stored entry at or after entries[0].index), then store `hardState` if set; fsync when `mustSync`;
 *  3. only then send `messagesAfterPersist`: they acknowledge what step 2 wrote (votes, appends);
 *  4. apply `committedEntries` in order (they are durable once step 2 is done);
 *  5. call `advance(ready)`.
 * Only one Ready is outstanding at a time; `ready()` may not be called again before `advance`, but
 * `takeMessages()` may drain the messages of step 1 at any time.
 */
export interface Ready {
  readonly softState: SoftState | null;
  readonly hardState: HardState | null;
  readonly snapshot: SnapshotPoint | null;
  readonly entries: readonly Entry[];
  /** Whether step 2 must reach stable storage (false when only the commit index changed). */
  readonly mustSync: boolean;
  readonly messages: readonly Message[];
  readonly messagesAfterPersist: readonly Message[];
  readonly committedEntries: readonly Entry[];
}
