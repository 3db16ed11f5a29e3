/** Why a proposal was refused. These are operating errors: expected, typed, handled by the caller. */
export const ProposeRejection = {
  /** Only the leader accepts proposals; `leaderId` is a hint (0 when unknown). */
  NotLeader: "not-leader",
  /** The leader is handing over leadership and refuses new entries until it is done. */
  TransferInProgress: "transfer-in-progress",
  /** A membership change is already in the log and not yet applied (one change at a time). */
  MembershipChangePending: "membership-change-pending",
  /** The change does not apply to the current membership (see `detail`). */
  InvalidMembershipChange: "invalid-membership-change",
  /** A learner is promoted only once it has acknowledged the leader's log to within the allowed lag, recently. */
  LearnerNotCaughtUp: "learner-not-caught-up",
  /** The proposal was empty or had more entries than `proposalEntriesMax`. */
  InvalidProposal: "invalid-proposal",
  /** Too many entries are not yet committed; retry once the cluster catches up (backpressure). */
  TooManyUncommitted: "too-many-uncommitted",
  /** Leadership cannot move to this node (itself, or not a voter). */
  InvalidTransferTarget: "invalid-transfer-target",
} as const;
export type ProposeRejection = (typeof ProposeRejection)[keyof typeof ProposeRejection];

/** The outcome of `propose`, a membership change proposal or `transferLeadership`. */
export type ProposeResult =
  | { readonly ok: true; readonly term: number; readonly firstIndex: number; readonly lastIndex: number }
  | { readonly ok: false; readonly reason: ProposeRejection; readonly leaderId: number; readonly detail: string };

export function rejected(reason: ProposeRejection, leaderId: number, detail: string): ProposeResult {
  return { ok: false, reason, leaderId, detail };
}
