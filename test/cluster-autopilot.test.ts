// The autopilot's decisions (src/cluster/autopilot.ts), table by table: a member dead past the
// timeout is removed only while the voters left keep min-voters and the other alive voters a quorum of
// the current configuration; learners go whatever the counts; left, suspect, unseen members and the
// leader itself are never candidates; a member's clock starts when it was last seen to die.
import assert from "node:assert/strict";
import { test } from "node:test";
import { autopilotVerdicts, type AutopilotInput, type MemberHealth } from "../src/cluster/autopilot.ts";

const NOW_MS = 100_000;
const TIMEOUT_MS = 2_000;

/** Input for voters 1..voters (1 leads) and `learners`, with gossip's view given per id (alive otherwise). */
function input(voters: number, views: Readonly<Record<number, MemberHealth | undefined>>, options: { learners?: number[]; minVoters?: number } = {}): AutopilotInput {
  return {
    membership: { voters: Array.from({ length: voters }, (_, index) => index + 1), learners: options.learners ?? [] },
    leaderId: 1,
    health: (id) => (id in views ? views[id] : { state: "alive", sinceMs: 0 }),
    nowMs: NOW_MS,
    deadMemberTimeoutMs: TIMEOUT_MS,
    minVoters: options.minVoters ?? 3,
  };
}

const deadFor = (ms: number): MemberHealth => ({ state: "dead", sinceMs: NOW_MS - ms });

test("a voter dead past the timeout is removed from 5 voters; not before the timeout", () => {
  const [verdict, ...rest] = autopilotVerdicts(input(5, { 4: deadFor(TIMEOUT_MS + 1) }));
  assert.equal(rest.length, 0);
  assert.deepEqual({ nodeId: verdict!.nodeId, remove: verdict!.remove }, { nodeId: 4, remove: true });
  assert.match(verdict!.reason, /dead for 2001 ms.*4 other voters alive \(quorum 3 of 5\), 4 voters remain \(min-voters 3\)/);
  assert.deepEqual(autopilotVerdicts(input(5, { 4: deadFor(TIMEOUT_MS) })), []);
});

test("min-voters: with 3 voters and min-voters 3 a dead voter is kept, with min-voters 2 it goes", () => {
  const [kept] = autopilotVerdicts(input(3, { 3: deadFor(10_000) }));
  assert.equal(kept!.remove, false);
  assert.match(kept!.reason, /would leave 2 voters, below min-voters 3/);
  assert.equal(autopilotVerdicts(input(3, { 3: deadFor(10_000) }, { minVoters: 2 }))[0]!.remove, true);
});

test("quorum guard: with half or more of the voters down nothing is removed", () => {
  // 5 voters, 2 dead and 1 suspect: the leader and one more are alive, 2 < quorum 3.
  const verdicts = autopilotVerdicts(input(5, { 3: deadFor(9_000), 4: deadFor(9_000), 5: { state: "suspect", sinceMs: 0 } }, { minVoters: 1 }));
  assert.deepEqual(verdicts.map((verdict) => [verdict.nodeId, verdict.remove]), [[3, false], [4, false]]);
  assert.match(verdicts[0]!.reason, /only 2 other voters are alive, fewer than the quorum of 3 of the 5 voters/);
  // 2 voters, 1 dead: the leader alone is not a quorum of 2.
  assert.equal(autopilotVerdicts(input(2, { 2: deadFor(9_000) }, { minVoters: 1 }))[0]!.remove, false);
  // 3 voters, 1 dead, min-voters 1: the leader and one more are a quorum of 3.
  assert.equal(autopilotVerdicts(input(3, { 2: deadFor(9_000) }, { minVoters: 1 }))[0]!.remove, true);
});

test("learners go past the timeout whatever the counts, before voters", () => {
  const verdicts = autopilotVerdicts(input(3, { 3: deadFor(9_000), 7: deadFor(9_000) }, { learners: [7] }));
  assert.deepEqual(verdicts.map((verdict) => [verdict.nodeId, verdict.remove]), [[7, true], [3, false]]);
});

test("left, suspect, unseen members and the leader itself are never removed", () => {
  const views = { 2: { state: "left", sinceMs: 0 }, 3: { state: "suspect", sinceMs: 0 }, 4: undefined } as const;
  assert.deepEqual(autopilotVerdicts(input(5, views, { minVoters: 1 })), []);
  assert.deepEqual(autopilotVerdicts({ ...input(5, {}), health: () => deadFor(9_000), minVoters: 1 }).map((verdict) => verdict.nodeId), [2, 3, 4, 5]);
});
