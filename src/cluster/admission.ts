// How the leader admits a node that asks to join by name: the one decision the production join
// handler (cluster-node.ts) and the simulator's model of it (src/sim/simulation.ts) both take.
//
// A node is known to the cluster by its name (`--node-id`, say a pod name `loghouse-0`), but Raft
// knows it by a Raft id that its data directory draws once, at random, before it first talks to
// anyone (raft-state-file.ts). A node that lost its disk therefore comes back under the same name
// with a NEW Raft id: it has forgotten its votes and its log, and to Raft it is a stranger, never the
// voter it was. (Reusing the id broke safety: replayed old configurations still counted the empty
// node a voter, and it could win an election without the committed entries; simulator seed 13254.)
//
// When a name is bound to another Raft id in the configuration, that old id is removed first, then
// the new id is added as a learner, and the leader's promoter makes it a voter once it has caught
// up. Remove-first is the order that costs the least availability: the old id has lost its state, so
// it no longer counts towards a quorum anyway; removing it lowers the quorum at once (3 voters with
// one gone: 2 of 2, the same tolerance as before), while adding the new voter first would raise it
// (4 voters, 3 needed, of which the new one must first catch up). Only one change is under way at
// a time, so the steps are taken one per call, each with its reason for the log.
import type { Membership, MembershipChange } from "../raft/index.ts";
import { MembershipChangeKind } from "../raft/index.ts";
import { encodeMemberCard } from "./member-card.ts";

/** A node asking to join: its name, the Raft id its data directory drew, and where it listens. */
export interface JoinCandidate {
  readonly name: string;
  readonly nodeId: number;
  readonly address: string;
}

export type AdmissionStep =
  /** Nothing left to change: the candidate is a member under its name. */
  | { readonly kind: "admitted"; readonly reason: string }
  /** Propose `change`, then ask again once it is applied. */
  | { readonly kind: "propose"; readonly change: MembershipChange; readonly reason: string }
  /** The join cannot be allowed. */
  | { readonly kind: "refused"; readonly reason: string };

/**
 * The next step to admit `candidate` into `membership` (as the leader `leaderId` has applied it),
 * where `nameOf` gives the name bound to each member's Raft id, if known, and `isAlive` whether the
 * leader hears a member's Raft traffic now. A name whose Raft id is alive is not taken over: that is
 * a second process started under a live member's name, and removing the member would evict a healthy
 * node. A node that lost its data directory is admitted once its old id has fallen silent.
 */
export function nextAdmissionStep(
  membership: Membership,
  nameOf: (nodeId: number) => string | undefined,
  leaderId: number,
  candidate: JoinCandidate,
  isAlive: (nodeId: number) => boolean,
): AdmissionStep {
  const { name, nodeId } = candidate;
  const members = [...membership.voters, ...membership.learners];
  const stale = members.find((id) => id !== nodeId && nameOf(id) === name);
  if (stale === leaderId) return { kind: "refused", reason: `name ${name} belongs to the leader (Raft id ${leaderId}), not to Raft id ${nodeId}: two nodes share one name` };
  if (stale !== undefined && isAlive(stale)) {
    return { kind: "refused", reason: `name ${name} belongs to Raft id ${stale}, a live member, not to Raft id ${nodeId}: two nodes share one name (a node that lost its data directory is admitted once its old one is down)` };
  }
  if (stale !== undefined) {
    const role = membership.voters.includes(stale) ? "voter" : "learner";
    return {
      kind: "propose",
      change: { kind: MembershipChangeKind.RemoveNode, nodeId: stale },
      reason: `name ${name} is bound to Raft id ${stale} (a ${role}) and joins again as Raft id ${nodeId}, a new data directory: the old id is removed first`,
    };
  }
  if (members.includes(nodeId)) return { kind: "admitted", reason: `${name} (Raft id ${nodeId}) is a member` };
  return {
    kind: "propose",
    change: { kind: MembershipChangeKind.AddLearner, nodeId, address: encodeMemberCard(name, candidate.address) },
    reason: `${name} (Raft id ${nodeId}) joins as a learner, to be promoted once caught up`,
  };
}
