// The leader's autopilot: which Raft members that gossip reports failed are removed from the
// configuration, and which are kept, each with its reason. Pure: the gossip view, the configuration
// and the time come in; member-gossip.ts runs it on the leader, one removal at a time, against the
// configuration the leader has applied at that moment (so a decision is always re-checked).
//
// The anchor is Consul autopilot's dead-server cleanup:
// - a member is a candidate once gossip has reported it `dead` continuously for longer than
//   `deadMemberTimeoutMs` (a member that comes back alive, even briefly, starts its clock again);
// - a voter is removed only if the voters left afterwards number at least `minVoters`, and the voters
//   other than it that gossip reports alive still form a quorum of the CURRENT configuration: when
//   half or more of the voters are down at once, that is an outage (or a partition) to be repaired,
//   not a reason to shrink the cluster to whatever minority the leader can still see;
// - a learner holds no vote, so it is removed past the timeout whatever the counts;
// - the leader never removes itself, and a member gossip has no view of is never removed.
//
// `left` members (a graceful stop: SIGTERM sends a goodbye) are never removed automatically, however
// long they stay away: a planned stop is a restart, an upgrade or a drained machine, and the node is
// expected back with its data directory. Had it been removed, it would come back to find itself no
// member and serve nothing until its data directory was wiped. An operator removes a member for good
// with `loghouse leave --node-id NAME`.
import type { Membership } from "../raft/index.ts";
import { quorumOf } from "../raft/membership.ts";
import type { MemberState } from "../membership/member.ts";

/** What gossip says of one Raft member, and since when (ms, by the node's clock). */
export interface MemberHealth {
  readonly state: MemberState;
  readonly sinceMs: number;
}

export interface AutopilotInput {
  /** The configuration the leader has applied. */
  readonly membership: Membership;
  readonly leaderId: number;
  /** Gossip's view of the member with Raft id `nodeId`, if it has one. */
  readonly health: (nodeId: number) => MemberHealth | undefined;
  readonly nowMs: number;
  readonly deadMemberTimeoutMs: number;
  readonly minVoters: number;
}

/** A member dead past the timeout, and what becomes of it. */
export interface AutopilotVerdict {
  readonly nodeId: number;
  readonly remove: boolean;
  readonly reason: string;
}

/** A verdict on every member dead past the timeout: learners first, then voters, in Raft id order. */
export function autopilotVerdicts(input: AutopilotInput): AutopilotVerdict[] {
  const { membership, leaderId, nowMs, deadMemberTimeoutMs } = input;
  const deadPast = (id: number): number | undefined => {
    const health = input.health(id);
    if (id === leaderId || health === undefined || health.state !== "dead") return undefined;
    const deadMs = nowMs - health.sinceMs;
    return deadMs > deadMemberTimeoutMs ? deadMs : undefined;
  };
  const verdicts: AutopilotVerdict[] = [];
  for (const id of [...membership.learners].sort((a, b) => a - b)) {
    const deadMs = deadPast(id);
    if (deadMs !== undefined) verdicts.push({ nodeId: id, remove: true, reason: `a learner dead for ${deadMs} ms, past the dead-member timeout of ${deadMemberTimeoutMs} ms` });
  }
  for (const id of [...membership.voters].sort((a, b) => a - b)) {
    const deadMs = deadPast(id);
    if (deadMs !== undefined) verdicts.push(voterVerdict(input, id, deadMs));
  }
  return verdicts;
}

function voterVerdict(input: AutopilotInput, nodeId: number, deadMs: number): AutopilotVerdict {
  const { voters } = input.membership;
  const dead = `a voter dead for ${deadMs} ms, past the dead-member timeout of ${input.deadMemberTimeoutMs} ms`;
  const remaining = voters.length - 1;
  if (remaining < input.minVoters) {
    return { nodeId, remove: false, reason: `${dead}, kept: removing it would leave ${remaining} voters, below min-voters ${input.minVoters}` };
  }
  const quorum = quorumOf(voters.length);
  const alive = voters.filter((id) => id !== nodeId && (id === input.leaderId || input.health(id)?.state === "alive")).length;
  if (alive < quorum) {
    return { nodeId, remove: false, reason: `${dead}, kept: only ${alive} other voters are alive, fewer than the quorum of ${quorum} of the ${voters.length} voters` };
  }
  return { nodeId, remove: true, reason: `${dead}; ${alive} other voters alive (quorum ${quorum} of ${voters.length}), ${remaining} voters remain (min-voters ${input.minVoters})` };
}
