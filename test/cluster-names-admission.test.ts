// The leader's admission decision (src/cluster/admission.ts) step by step, as the join handler and
// the simulator take it: a new name is added as a learner; a name bound to another Raft id has that
// id removed first (voter or learner), then the new id added; a member is admitted as it is; the
// leader's own name is never taken over. Names and addresses travel as one card (member-card.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { nextAdmissionStep, type AdmissionStep, type JoinCandidate } from "../src/cluster/admission.ts";
import { decodeMemberCard, encodeMemberCard } from "../src/cluster/member-card.ts";
import { applyMembershipChange, MembershipChangeKind, type Membership } from "../src/raft/index.ts";

const names: Readonly<Record<number, string>> = { 11: "n-a", 22: "n-b", 33: "n-c" };
const nameOf = (id: number): string | undefined => names[id];
const leader = 11;
/** No member is heard from: every old Raft id has gone silent (its node lost its data directory). */
const silent = (): boolean => false;

/** Takes every step to admit `candidate` from `membership`, applying each change; returns the kinds of change and the membership at the end. */
function admit(membership: Membership, candidate: JoinCandidate): { steps: string[]; membership: Membership; last: AdmissionStep } {
  const steps: string[] = [];
  for (;;) {
    const step = nextAdmissionStep(membership, (id) => (id === candidate.nodeId ? candidate.name : nameOf(id)), leader, candidate, silent);
    if (step.kind !== "propose") return { steps, membership, last: step };
    steps.push(`${step.change.kind === MembershipChangeKind.RemoveNode ? "remove" : "add-learner"} ${step.change.nodeId}`);
    const next = applyMembershipChange(membership, step.change);
    assert.ok(typeof next !== "string", next as string);
    membership = next;
    assert.ok(steps.length <= 2, "at most two changes");
  }
}

test("a new name joins as a learner, its name and address carried in the change", () => {
  const step = nextAdmissionStep({ voters: [11], learners: [] }, nameOf, leader, { name: "n-b", nodeId: 22, address: "10.0.0.2:8400" }, silent);
  assert.equal(step.kind, "propose");
  assert.ok(step.kind === "propose");
  assert.deepEqual(step.change, { kind: MembershipChangeKind.AddLearner, nodeId: 22, address: "n-b@10.0.0.2:8400" });
  assert.deepEqual(decodeMemberCard(step.change.address!), { name: "n-b", address: "10.0.0.2:8400" });
});

test("a name back with a new Raft id: the old voter is removed first, then the new id added as a learner", () => {
  const { steps, membership, last } = admit({ voters: [11, 22, 33], learners: [] }, { name: "n-b", nodeId: 44, address: "10.0.0.2:8400" });
  assert.deepEqual(steps, ["remove 22", "add-learner 44"]);
  assert.deepEqual(membership, { voters: [11, 33], learners: [44] });
  assert.equal(last.kind, "admitted");
  assert.match(last.reason, /n-b \(Raft id 44\) is a member/);
});

test("an old learner under the name is replaced the same way; a member under its own id is admitted as it is", () => {
  assert.deepEqual(admit({ voters: [11], learners: [22] }, { name: "n-b", nodeId: 44, address: "a:1" }).steps, ["remove 22", "add-learner 44"]);
  assert.deepEqual(admit({ voters: [11, 22], learners: [] }, { name: "n-b", nodeId: 22, address: "a:1" }).steps, []);
});

test("the leader's name is never taken over by another Raft id", () => {
  const step = nextAdmissionStep({ voters: [11, 22], learners: [] }, nameOf, leader, { name: "n-a", nodeId: 44, address: "a:1" }, silent);
  assert.equal(step.kind, "refused");
  assert.match(step.reason, /two nodes share one name/);
});

test("a name whose Raft id is alive is not taken over; once that id falls silent it is", () => {
  // Before: a second process started under a live member's name had the member removed.
  const membership = { voters: [11, 22, 33], learners: [] };
  const candidate = { name: "n-b", nodeId: 44, address: "a:1" };
  const refused = nextAdmissionStep(membership, nameOf, leader, candidate, (id) => id === 22);
  assert.equal(refused.kind, "refused");
  assert.match(refused.reason, /name n-b belongs to Raft id 22, a live member, not to Raft id 44: two nodes share one name/);
  const replaced = nextAdmissionStep(membership, nameOf, leader, candidate, silent);
  assert.ok(replaced.kind === "propose" && replaced.change.kind === MembershipChangeKind.RemoveNode && replaced.change.nodeId === 22);
});

test("a member card splits at the first '@'; a bare address (no name) stays an address", () => {
  assert.equal(encodeMemberCard("loghouse-0", "[::1]:8400"), "loghouse-0@[::1]:8400");
  assert.deepEqual(decodeMemberCard("loghouse-0@[::1]:8400"), { name: "loghouse-0", address: "[::1]:8400" });
  assert.deepEqual(decodeMemberCard("127.0.0.1:8400"), { name: undefined, address: "127.0.0.1:8400" });
});
