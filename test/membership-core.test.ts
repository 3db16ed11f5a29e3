// The SWIM core's bounds, driven directly through its inputs: piggybacked updates fill a datagram
// and no more, the member table stops at membersMax, and Lifeguard's suspicion shrinks with
// independent confirmations.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodedBytes } from "../src/membership/gossip-codec.ts";
import { defaultGossipConfig } from "../src/membership/gossip-config.ts";
import type { MemberRecord } from "../src/membership/gossip-message.ts";
import { Suspicion } from "../src/membership/suspicion.ts";
import { SwimCore } from "../src/membership/swim-core.ts";
import { SeededRandom } from "../src/raft/random.ts";

const identity = { name: "self", address: "10.0.0.1:8400", role: "voter" };

function records(count: number): MemberRecord[] {
  return Array.from({ length: count }, (_, i) => ({ name: `member-${i}`, address: `10.1.${i >> 8}.${i & 255}:8400`, role: "voter", state: "alive", incarnation: 0 }));
}

test("gossip messages are filled with as many updates as fit one datagram", () => {
  const core = new SwimCore(identity, defaultGossipConfig, new SeededRandom(1), 0);
  core.receive("10.1.0.0:8400", { type: "sync", replyWanted: false, members: records(200) }, 0);
  core.takeOutbox();
  core.tick(defaultGossipConfig.gossipIntervalMs);
  const gossip = core.takeOutbox().filter((out) => out.message.type === "gossip");
  assert.equal(gossip.length, defaultGossipConfig.gossipFanout);
  for (const { message } of gossip) {
    const bytes = encodedBytes(message);
    assert.ok(bytes <= defaultGossipConfig.messageBytesMax, `${bytes} bytes`);
    // One more alive update (about 40 bytes) would not have fitted.
    assert.ok(bytes > defaultGossipConfig.messageBytesMax - 45, `only ${bytes} bytes used`);
  }
});

test("the member table stops at membersMax and counts what it dropped", () => {
  const core = new SwimCore(identity, { ...defaultGossipConfig, membersMax: 10 }, new SeededRandom(2), 0);
  core.receive("10.1.0.0:8400", { type: "sync", replyWanted: false, members: records(25) }, 0);
  assert.equal(core.memberViews().length, 10);
  assert.equal(core.counters.membersDropped, 16);
  assert.equal(core.takeEvents().filter((e) => e.type === "joined").length, 9);
});

test("a suspicion shrinks from its longest to its shortest timeout as independent members confirm it", () => {
  const suspicion = new Suspicion(1_000, 4_000, 24_000, 3, "a");
  assert.equal(suspicion.deadlineMs(), 25_000);
  assert.equal(suspicion.confirm("a"), false, "the accuser's own repeat is no confirmation");
  const deadlines = ["b", "c", "d"].map((from) => {
    assert.equal(suspicion.confirm(from), true);
    return suspicion.deadlineMs();
  });
  // timeout = max - (max - min) * log(c + 1) / log(k + 1): 14 s, 8.15 s, then the minimum of 4 s.
  assert.deepEqual(deadlines, [15_000, 9_150, 5_000]);
  assert.equal(suspicion.confirm("e"), false, "confirmations beyond the expected count change nothing");
  assert.equal(new Suspicion(0, 4_000, 24_000, 0, "a").deadlineMs(), 4_000);
});

test("an unanswered push-pull is sent once more a probe interval later, an answered one is not", () => {
  const { probeIntervalMs, pushPullIntervalMs } = defaultGossipConfig;
  for (const answered of [false, true]) {
    const core = new SwimCore(identity, defaultGossipConfig, new SeededRandom(3), 0);
    core.receive("10.1.0.0:8400", { type: "sync", replyWanted: false, members: records(5) }, 0);
    core.takeOutbox();
    let nowMs = 0;
    /** Ticks 10 ms on, acking every probe so that every member stays alive; returns the push-pull requests sent. */
    const step = () => {
      nowMs += 10;
      core.tick(nowMs);
      const out = core.takeOutbox();
      for (const { to, message } of out) if (message.type === "ping") core.receive(to, { type: "ack", seq: message.seq, updates: [] }, nowMs);
      return out.filter(({ message }) => message.type === "sync" && message.replyWanted);
    };
    let sent = step();
    while (sent.length === 0 && nowMs <= 2 * pushPullIntervalMs) sent = step();
    assert.equal(sent.length, 1, "no periodic push-pull within twice its interval");
    if (answered) core.receive(sent[0]!.to, { type: "sync", replyWanted: false, members: records(5) }, nowMs);
    const retriedAt: number[] = [];
    for (const end = nowMs + 2 * probeIntervalMs; nowMs < end; ) retriedAt.push(...step().map(() => nowMs));
    if (answered) assert.deepEqual(retriedAt, []);
    else assert.equal(retriedAt.length, 1, `push-pull sent again at ${retriedAt.join(", ")}`);
  }
});

test("a joining node that first hears of its name's holder in a verdict (dead or left, in a push-pull) does not refute it either", () => {
  const joining = { name: "m", address: "10.0.0.9:8400", role: "joining" };
  const yieldsToMembers = (claimRole: string, ownRole: string): boolean => ownRole === "joining" && claimRole !== "joining";
  for (const state of ["dead", "left", "suspect"] as const) {
    const core = new SwimCore(joining, defaultGossipConfig, new SeededRandom(5), 0, yieldsToMembers);
    core.receive("10.0.0.2:8400", { type: "sync", replyWanted: false, members: [{ name: "m", address: "10.0.0.1:8400", role: "voter", state, incarnation: 3 }] }, 0);
    assert.equal(core.counters.refutations, 0, `a ${state} record about the member was refuted`);
  }
});

test("a node that lets a member at another address hold its name refutes neither a suspicion nor a verdict of death about the name, which are the member's", () => {
  const joining = { name: "m", address: "10.0.0.9:8400", role: "joining" };
  const member = { kind: "alive" as const, name: "m", address: "10.0.0.1:8400", role: "voter", incarnation: 3 };
  const yieldsToMembers = (claimRole: string, ownRole: string): boolean => ownRole === "joining" && claimRole !== "joining";
  for (const accusation of [
    { kind: "suspect" as const, name: "m", incarnation: 3, from: "other" },
    { kind: "dead" as const, name: "m", incarnation: 3, from: "other" },
  ]) {
    const core = new SwimCore(joining, defaultGossipConfig, new SeededRandom(4), 0, yieldsToMembers);
    core.takeOutbox();
    core.receive("10.0.0.2:8400", { type: "gossip", updates: [member] }, 0);
    core.receive("10.0.0.2:8400", { type: "gossip", updates: [accusation] }, 1);
    core.receive("10.0.0.2:8400", { type: "sync", replyWanted: false, members: [{ ...member, state: "dead" }] }, 2);
    core.receive("10.0.0.2:8400", { type: "sync", replyWanted: false, members: [{ ...member, state: "left" }] }, 3);
    assert.equal(core.counters.refutations, 0, `a ${accusation.kind} notice about the member was refuted`);
    core.tick(defaultGossipConfig.gossipIntervalMs);
    const claims = core.takeOutbox().flatMap(({ message }) => ("updates" in message ? message.updates : [])).filter((update) => update.name === "m" && update.kind === "alive");
    assert.ok(claims.every((claim) => claim.incarnation === 0), `claimed the name over the member: ${JSON.stringify(claims)}`);
    // A claim from its own address is its earlier life: refuted at once, as before.
    core.receive("10.0.0.2:8400", { type: "gossip", updates: [{ ...member, address: joining.address, incarnation: 5 }] }, defaultGossipConfig.gossipIntervalMs);
    assert.equal(core.counters.refutations, 1);
  }
});
