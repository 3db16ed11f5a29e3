// A Storage may answer a long range in parts (at least one entry each): the cluster's log reads back a
// few MiB at a time. The core takes a short answer as far as it goes (applying goes on from where it
// ended), and its checks that need every entry of a range ask again until they have it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { defaultRaftLimits } from "../src/raft/config.ts";
import { MemoryStorage } from "../src/raft/memory-storage.ts";
import { SeededRandom } from "../src/raft/random.ts";
import { RawNode } from "../src/raft/raw-node.ts";
import { EntryType, type Entry } from "../src/raft/types.ts";

/** A MemoryStorage that answers at most `partMax` entries per call. */
class PartsStorage extends MemoryStorage {
  calls = 0;

  constructor(private readonly partMax: number) {
    super({ index: 1, term: 1, membership: { voters: [1, 2, 3], learners: [] } });
  }

  override entries(low: number, high: number, bytesMax: number): Entry[] {
    this.calls++;
    return super.entries(low, high, bytesMax).slice(0, this.partMax);
  }
}

function entry(index: number, type: EntryType = EntryType.Normal): Entry {
  return { index, term: 1, type, data: new Uint8Array([index]), timestampMs: 5 };
}

/** A follower whose disk holds entries 2..9 of type `lastType` for the last, all committed, none applied yet. */
function nodeOverParts(lastType: EntryType = EntryType.Normal): { raw: RawNode; storage: PartsStorage } {
  const storage = new PartsStorage(2);
  storage.append([2, 3, 4, 5, 6, 7, 8].map((index) => entry(index)));
  storage.append([entry(9, lastType)]);
  storage.setHardState({ term: 1, vote: 0, commit: 9 });
  return { raw: new RawNode({ ...defaultRaftLimits, id: 1, storage, random: new SeededRandom(1) }), storage };
}

test("committed entries read in parts are all applied, in order, over successive Readys", () => {
  const { raw } = nodeOverParts();
  const applied: number[] = [];
  while (raw.hasReady()) {
    const ready = raw.ready();
    assert.ok(ready.committedEntries.length <= 2, "a Ready takes the storage's short answer as it is");
    applied.push(...ready.committedEntries.map((e) => e.index));
    raw.advance(ready);
    if (applied.length > 8) break;
  }
  assert.deepEqual(applied, [2, 3, 4, 5, 6, 7, 8, 9]);
});

test("a node with a committed membership change beyond the first part of its answer does not campaign before applying it", () => {
  const { raw, storage } = nodeOverParts(EntryType.Membership);
  raw.campaign();
  assert.ok(storage.calls > 1, "the check asked the storage again after its first, short answer");
  assert.deepEqual(raw.takeMessages(), [], "no (pre-)vote requests: the membership change at 9 is not applied yet");
});
