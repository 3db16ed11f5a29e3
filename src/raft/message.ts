import type { Entry, SnapshotPoint } from "./types.ts";

/** The kinds of message Raft peers exchange. Local events are method calls, not messages. */
export const MessageType = {
  /** Leader → follower: entries after (`index`, `logTerm`) and the leader's `commit`. */
  Append: "append",
  /** Follower → leader: accepted up to `index`, or (`reject`) mismatch at `index` with a hint. */
  AppendResponse: "append-response",
  /** Leader → follower: liveness and `commit` (never beyond what the follower is known to hold). */
  Heartbeat: "heartbeat",
  HeartbeatResponse: "heartbeat-response",
  /** Candidate → voter: my last entry is (`index`, `logTerm`); vote for me in `term`. */
  Vote: "vote",
  VoteResponse: "vote-response",
  /** Like `Vote`, but for `term` without any node changing its term (Raft thesis §9.6). */
  PreVote: "pre-vote",
  PreVoteResponse: "pre-vote-response",
  /** Leader → follower whose entries are compacted away: start your log at `snapshot`. */
  Snapshot: "snapshot",
  /** Leader → transfer target: campaign now, skipping pre-vote (Raft thesis §3.10). */
  TimeoutNow: "timeout-now",
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * One message. Fields unused by a type are zero, false, empty or null. Immutable once created: drivers
 * may hand the same object to several receivers (the simulator does).
 */
export interface Message {
  readonly type: MessageType;
  readonly from: number;
  readonly to: number;
  readonly term: number;
  /** Append: term of the entry at `index`. Vote: term of the last entry. Reject: term at `rejectHint`. */
  readonly logTerm: number;
  /** Append: index before `entries`. Vote: last index. AppendResponse: match index or rejected index. */
  readonly index: number;
  readonly entries: readonly Entry[];
  readonly commit: number;
  readonly reject: boolean;
  /** AppendResponse with `reject`: the follower's guess of the highest index that could match. */
  readonly rejectHint: number;
  readonly snapshot: SnapshotPoint | null;
  /** Vote: the campaign follows a leadership transfer, so voters must not ignore it (thesis §4.2.3). */
  readonly transfer: boolean;
}

const noEntries: readonly Entry[] = Object.freeze([]);

/** Builds a message with every field not given set to its zero value. */
export function message(fields: Pick<Message, "type" | "from" | "to" | "term"> & Partial<Message>): Message {
  return {
    logTerm: 0,
    index: 0,
    entries: noEntries,
    commit: 0,
    reject: false,
    rejectHint: 0,
    snapshot: null,
    transfer: false,
    ...fields,
  };
}

/** The response type that answers a vote request of type `type`. */
export function voteResponseType(type: MessageType): MessageType {
  if (type === MessageType.Vote) return MessageType.VoteResponse;
  if (type === MessageType.PreVote) return MessageType.PreVoteResponse;
  throw new Error(`not a vote request: ${type}`);
}
