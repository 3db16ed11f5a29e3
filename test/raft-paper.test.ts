/**
 * Safety rules of the Raft paper (Ongaro & Ousterhout, "In Search of an Understandable Consensus
 * Algorithm", 2014), each tested against the core directly. Section numbers refer to that paper.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MemoryStorage } from "../src/raft/memory-storage.ts";
import { message, MessageType, type Message } from "../src/raft/message.ts";
import { SeededRandom } from "../src/raft/random.ts";
import { RawNode } from "../src/raft/raw-node.ts";
import { defaultRaftLimits } from "../src/raft/config.ts";
import { EntryType, Role, type Entry, type HardState } from "../src/raft/types.ts";
import { ScenarioEnv } from "../src/sim/scenario.ts";

const voters = [1, 2, 3];
const bootstrap = { index: 1, term: 1, membership: { voters, learners: [] } };

function entry(index: number, term: number, text = ""): Entry {
  return { index, term, type: text === "" ? EntryType.NoOp : EntryType.Normal, data: new TextEncoder().encode(text) };
}

/** A node whose disk already holds `entries` and `hardState`. */
function nodeWith(id: number, entries: Entry[], hardState: HardState): { raw: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage(bootstrap);
  storage.append(entries);
  storage.setHardState(hardState);
  const raw = new RawNode({ ...defaultRaftLimits, id, storage, random: new SeededRandom(id) });
  return { raw, storage };
}

/** Carries out a Ready the way a driver must, returning every message it asks to send. */
function persistAndAdvance(raw: RawNode, storage: MemoryStorage): Message[] {
  const out: Message[] = [];
  while (raw.hasReady()) {
    const ready = raw.ready();
    if (ready.snapshot !== null) storage.installSnapshot(ready.snapshot);
    storage.append(ready.entries);
    if (ready.hardState !== null) storage.setHardState(ready.hardState);
    out.push(...ready.messages, ...ready.messagesAfterPersist);
    raw.advance(ready);
  }
  return out;
}

function electedCluster(): ScenarioEnv {
  const env = new ScenarioEnv();
  env.addNodes(voters, bootstrap);
  env.campaign(1);
  env.stabilize();
  return env;
}

describe("§5.2 leader election", () => {
  it("a candidate with a majority of votes becomes leader; the others follow it", () => {
    const env = electedCluster();
    assert.equal(env.node(1).status().role, Role.Leader);
    assert.equal(env.node(2).status().lead, 1);
    assert.equal(env.node(3).status().lead, 1);
  });

  it("a candidate cut off from the majority never becomes leader", () => {
    const env = new ScenarioEnv();
    env.addNodes(voters, bootstrap);
    env.partition([[1], [2, 3]]);
    env.campaign(1);
    env.stabilize();
    assert.notEqual(env.node(1).status().role, Role.Leader);
  });

  it("each server votes for at most one candidate in a term, even across a restart", () => {
    const { raw, storage } = nodeWith(3, [], { term: 1, vote: 0, commit: 1 });
    raw.step(message({ type: MessageType.Vote, from: 1, to: 3, term: 2, index: 1, logTerm: 1 }));
    const granted = persistAndAdvance(raw, storage);
    assert.deepEqual(granted.map((m) => [m.type, m.reject]), [[MessageType.VoteResponse, false]]);
    const restarted = new RawNode({ ...defaultRaftLimits, id: 3, storage, random: new SeededRandom(9) });
    restarted.step(message({ type: MessageType.Vote, from: 2, to: 3, term: 2, index: 1, logTerm: 1 }));
    const second = persistAndAdvance(restarted, storage);
    assert.deepEqual(second.map((m) => [m.type, m.reject]), [[MessageType.VoteResponse, true]]);
  });

  it("a candidate does not lead before its own term and vote are durable, whatever the others say", () => {
    // Found by the simulator (seed 9972): a candidate elected by others while its own vote was still
    // in flight crashed, forgot its term, and led the same term a second time with other entries.
    const storage = new MemoryStorage({ index: 1, term: 1, membership: { voters: [1, 2, 3, 4, 5], learners: [] } });
    const raw = new RawNode({ ...defaultRaftLimits, id: 1, storage, random: new SeededRandom(1), preVote: false });
    raw.campaign();
    const ready = raw.ready();
    const term = raw.status().term;
    for (const from of [2, 3, 4]) raw.step(message({ type: MessageType.VoteResponse, from, to: 1, term }));
    assert.equal(raw.status().role, Role.Candidate, "three votes of five, but its own is not yet durable");
    storage.setHardState(ready.hardState as HardState);
    raw.advance(ready);
    assert.equal(raw.status().role, Role.Leader);
  });

  it("a vote is only sent once the vote is durable (it waits in messagesAfterPersist)", () => {
    const { raw } = nodeWith(3, [], { term: 1, vote: 0, commit: 1 });
    raw.step(message({ type: MessageType.Vote, from: 1, to: 3, term: 2, index: 1, logTerm: 1 }));
    const ready = raw.ready();
    assert.equal(ready.messages.length, 0);
    assert.equal(ready.messagesAfterPersist[0]?.type, MessageType.VoteResponse);
    assert.deepEqual(ready.hardState, { term: 2, vote: 1, commit: 1 });
    assert.equal(ready.mustSync, true);
  });
});

describe("§5.3 log replication", () => {
  it("a follower rejects entries whose previous index and term do not match its log", () => {
    const { raw, storage } = nodeWith(2, [entry(2, 1), entry(3, 1, "a")], { term: 2, vote: 0, commit: 2 });
    raw.step(message({ type: MessageType.Append, from: 1, to: 2, term: 2, index: 3, logTerm: 2, entries: [entry(4, 2, "b")] }));
    const out = persistAndAdvance(raw, storage);
    assert.equal(out[0]?.type, MessageType.AppendResponse);
    assert.equal(out[0]?.reject, true);
    assert.equal(storage.lastIndex(), 3);
  });

  it("a follower truncates a conflicting suffix and takes the leader's entries", () => {
    const { raw, storage } = nodeWith(2, [entry(2, 1), entry(3, 1, "old"), entry(4, 1, "old2")], { term: 2, vote: 0, commit: 2 });
    raw.step(message({ type: MessageType.Append, from: 1, to: 2, term: 2, index: 2, logTerm: 1, entries: [entry(3, 2, "new")] }));
    const out = persistAndAdvance(raw, storage);
    assert.equal(out[0]?.reject, false);
    assert.equal(out[0]?.index, 3);
    assert.equal(storage.lastIndex(), 3);
    assert.equal(storage.term(3), 2);
  });

  it("an acknowledgement of entries is only sent once they are durable", () => {
    const { raw } = nodeWith(2, [entry(2, 1)], { term: 2, vote: 0, commit: 2 });
    raw.step(message({ type: MessageType.Append, from: 1, to: 2, term: 2, index: 2, logTerm: 1, entries: [entry(3, 2, "x")] }));
    const ready = raw.ready();
    assert.equal(ready.entries.length, 1);
    assert.equal(ready.messages.length, 0);
    assert.equal(ready.messagesAfterPersist[0]?.type, MessageType.AppendResponse);
  });
});

describe("§5.4.1 election restriction", () => {
  it("a voter refuses a candidate whose log is less up to date than its own", () => {
    const { raw, storage } = nodeWith(3, [entry(2, 1), entry(3, 2, "x")], { term: 2, vote: 0, commit: 2 });
    // Same last index, older last term.
    raw.step(message({ type: MessageType.Vote, from: 1, to: 3, term: 3, index: 3, logTerm: 1 }));
    // Same last term, shorter log.
    raw.step(message({ type: MessageType.Vote, from: 2, to: 3, term: 4, index: 2, logTerm: 2 }));
    const out = persistAndAdvance(raw, storage);
    assert.deepEqual(out.map((m) => m.reject), [true, true]);
  });
});

describe("§5.4.2 committing entries from previous terms (Figure 8)", () => {
  it("a leader does not commit an entry of an earlier term by counting replicas", () => {
    // Node 1 holds an entry of term 1 that was never committed and wins the election of term 3.
    const { raw, storage } = nodeWith(1, [entry(2, 1), entry(3, 1, "x")], { term: 2, vote: 0, commit: 2 });
    raw.campaign();
    persistAndAdvance(raw, storage);
    raw.step(message({ type: MessageType.PreVoteResponse, from: 2, to: 1, term: 3 }));
    persistAndAdvance(raw, storage);
    raw.step(message({ type: MessageType.VoteResponse, from: 2, to: 1, term: 3 }));
    persistAndAdvance(raw, storage);
    assert.equal(raw.status().role, Role.Leader);
    assert.equal(storage.lastIndex(), 4, "the new leader appended its no-op at 4");
    // A majority (1 and 2) now holds index 3, an entry of term 1: it must not be committed yet.
    raw.step(message({ type: MessageType.AppendResponse, from: 2, to: 1, term: 3, index: 3 }));
    assert.equal(raw.status().commit, 2);
    // Once the no-op of term 3 is on a majority, it and everything before it is committed.
    raw.step(message({ type: MessageType.AppendResponse, from: 2, to: 1, term: 3, index: 4 }));
    assert.equal(raw.status().commit, 4);
  });
});

describe("§5.5 and §6 of the thesis: membership", () => {
  it("a learner is promoted only once it holds every committed entry", () => {
    const env = electedCluster();
    env.addNodes([4], { index: 0, term: 0, membership: { voters: [], learners: [] } });
    env.partition([[1, 2, 3], [4]]);
    assert.match(env.proposeMembership(1, { kind: 1, nodeId: 4 })[0] ?? "", /^ok/);
    env.stabilize();
    assert.match(env.proposeMembership(1, { kind: 2, nodeId: 4 })[0] ?? "", /learner-not-caught-up/);
    env.heal();
    env.tick(1, 1);
    env.stabilize();
    assert.match(env.proposeMembership(1, { kind: 2, nodeId: 4 })[0] ?? "", /^ok/);
    env.stabilize();
    assert.deepEqual(env.node(4).status().membership.voters, [1, 2, 3, 4]);
  });
});
