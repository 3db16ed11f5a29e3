/**
 * A batch (a BatchMark entry and the normal entries it spans, proposed together) commits whole:
 * a leader never commits up to an index inside one, and a new leader whose log ends inside one
 * puts its no-op where the mark was. The idempotent producer relies on it: a mark committed means
 * its whole batch is in the log, and a batch without its mark is never committed in part.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultRaftLimits } from "../src/raft/config.ts";
import { MemoryStorage } from "../src/raft/memory-storage.ts";
import { message, MessageType } from "../src/raft/message.ts";
import { SeededRandom } from "../src/raft/random.ts";
import { RawNode } from "../src/raft/raw-node.ts";
import { EntryType, Role, type Entry } from "../src/raft/types.ts";

const bootstrap = { index: 1, term: 1, membership: { voters: [1, 2, 3], learners: [] } };
const text = (value: string): Uint8Array => new TextEncoder().encode(value);
/** A mark's data: its span as a u32, then the driver's bytes. */
const markData = (span: number): Uint8Array => new Uint8Array([span, 0, 0, 0, 0xaa]);

/** Node 1 with `entries` on disk, elected leader of term 2 by nodes 2 and 3; its Ready carried out. */
function electedLeader(entries: Entry[]): { raw: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage(bootstrap);
  storage.append(entries);
  storage.setHardState({ term: 1, vote: 0, commit: 1 });
  const raw = new RawNode({ ...defaultRaftLimits, id: 1, storage, random: new SeededRandom(1), preVote: false });
  raw.campaign();
  persist(raw, storage);
  for (const from of [2, 3]) raw.step(message({ type: MessageType.VoteResponse, from, to: 1, term: 2 }));
  assert.equal(raw.status().role, Role.Leader);
  persist(raw, storage);
  return { raw, storage };
}

function persist(raw: RawNode, storage: MemoryStorage): void {
  while (raw.hasReady()) {
    const ready = raw.ready();
    storage.append(ready.entries);
    if (ready.hardState !== null) storage.setHardState(ready.hardState);
    raw.advance(ready);
  }
}

test("a new leader whose log ends inside a batch puts its no-op where the batch's mark was", () => {
  const { storage } = electedLeader([
    { index: 2, term: 1, type: EntryType.NoOp, data: new Uint8Array(0) },
    { index: 3, term: 1, type: EntryType.BatchMark, data: markData(3) },
    { index: 4, term: 1, type: EntryType.Normal, data: text("a") },
    { index: 5, term: 1, type: EntryType.Normal, data: text("b") },
  ]);
  assert.equal(storage.lastIndex(), 3);
  assert.deepEqual([storage.term(3), storage.entries(3, 4, Infinity)[0]?.type], [2, EntryType.NoOp]);
});

test("a new leader keeps a whole batch at the end of its log", () => {
  const { storage } = electedLeader([
    { index: 2, term: 1, type: EntryType.BatchMark, data: markData(2) },
    { index: 3, term: 1, type: EntryType.Normal, data: text("a") },
    { index: 4, term: 1, type: EntryType.Normal, data: text("b") },
  ]);
  assert.equal(storage.lastIndex(), 5);
  assert.equal(storage.term(4), 1);
  assert.equal(storage.term(5), 2);
});

test("a leader commits up to a batch's end or before its mark, never inside it", () => {
  const { raw, storage } = electedLeader([]);
  const noOp = storage.lastIndex();
  const acknowledge = (index: number): number => {
    raw.step(message({ type: MessageType.AppendResponse, from: 2, to: 1, term: 2, index }));
    persist(raw, storage);
    return raw.status().commit;
  };
  assert.equal(acknowledge(noOp), noOp);
  const result = raw.propose([text("a"), text("b"), text("c")], undefined, markData(3));
  assert.ok(result.ok);
  assert.deepEqual([result.firstIndex, result.lastIndex], [noOp + 2, noOp + 4], "the mark comes first; the records follow");
  persist(raw, storage);
  assert.equal(acknowledge(noOp + 1), noOp, "the mark alone is not committed");
  assert.equal(acknowledge(noOp + 3), noOp, "nor the mark and part of its span");
  assert.equal(acknowledge(noOp + 4), noOp + 4);
});

test("proposals made without sending reach each follower in one append message, batch marks and all", () => {
  const { raw, storage } = electedLeader([]);
  // Both followers hold the leader's no-op (index 2): new entries are sent to them as they come.
  for (const from of [2, 3]) raw.step(message({ type: MessageType.AppendResponse, from, to: 1, term: 2, index: 2 }));
  persist(raw, storage);
  raw.takeMessages();
  const plain = raw.propose([text("a")], 1, undefined, false);
  const marked = raw.propose([text("b"), text("c")], 1, markData(2), false);
  assert.ok(plain.ok && marked.ok);
  assert.deepEqual([plain.firstIndex, plain.lastIndex, marked.firstIndex, marked.lastIndex], [3, 3, 5, 6]);
  assert.deepEqual(raw.takeMessages(), [], "nothing is sent before sendPendingAppends");
  raw.sendPendingAppends();
  const appends = raw.takeMessages().filter((m) => m.type === MessageType.Append);
  assert.deepEqual(appends.map((m) => m.to).sort(), [2, 3]);
  for (const append of appends) {
    assert.deepEqual(append.entries.map((entry) => [entry.index, entry.type]), [[3, EntryType.Normal], [4, EntryType.BatchMark], [5, EntryType.Normal], [6, EntryType.Normal]]);
  }
});
