// The unstable tail keeps entries in the arrays they were appended in (issue 12). Checked against a
// model that keeps one plain array, over random appends (at the end, replacing a suffix from inside
// an array or at its edge, and from below the tail's start), hand-outs for persisting,
// acknowledgements (of whole hand-outs, some replaced since, and of single entries inside an array),
// snapshot restores and byte-limited slices across the arrays. The seed is printed when a run fails.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SeededRandom } from "../src/raft/random.ts";
import { Unstable } from "../src/raft/unstable.ts";
import { entryBytes, EntryType, type Entry } from "../src/raft/types.ts";

/** What the tail must answer: one array of the entries from `offset` on. */
class ModelTail {
  entries: Entry[] = [];
  inProgressOffset: number;

  constructor(public offset: number) {
    this.inProgressOffset = offset;
  }

  get end(): number {
    return this.offset + this.entries.length;
  }

  append(entries: readonly Entry[]): void {
    const first = entries[0]!.index;
    if (first <= this.offset) {
      this.offset = first;
      this.entries = [...entries];
    } else {
      this.entries = [...this.entries.slice(0, first - this.offset), ...entries];
    }
    this.inProgressOffset = Math.min(this.inProgressOffset, first);
  }

  stableTo(index: number, term: number): void {
    if (index < this.offset || index >= this.end || this.entries[index - this.offset]!.term !== term) return;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
    this.inProgressOffset = Math.max(this.inProgressOffset, this.offset);
  }

  slice(low: number, high: number, bytesMax: number): Entry[] {
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = low; index < high; index++) {
      const entry = this.entries[index - this.offset]!;
      bytes += entryBytes(entry);
      if (bytes > bytesMax && result.length > 0) break;
      result.push(entry);
    }
    return result;
  }
}

function entries(first: number, count: number, term: number, random: SeededRandom): Entry[] {
  return Array.from({ length: count }, (_, i) => ({ index: first + i, term, type: EntryType.Normal, data: new Uint8Array(random.intBelow(40)), timestampMs: 7 }));
}

function runSeed(seed: number): void {
  const random = new SeededRandom(seed);
  const tail = new Unstable(5);
  const model = new ModelTail(5);
  let term = 1;
  /** What was handed out for persisting and not yet acknowledged, as a driver holds it. */
  const handedOut: Array<readonly Entry[]> = [];
  for (let step = 0; step < 400; step++) {
    const choice = random.intBelow(10);
    if (choice < 4 || model.end === model.offset) {
      // Append: mostly at the end; sometimes a new term replacing a suffix, from anywhere in the tail.
      let first = model.end;
      if (choice === 0) {
        // A new leader's entries replace a suffix: from inside the tail, or from below its start
        // (entries persisted but not committed), never below index 1.
        term++;
        first = Math.max(1, model.offset - 2 + random.intBelow(model.end - model.offset + 3));
      }
      const batch = entries(first, 1 + random.intBelow(12), term, random);
      tail.truncateAndAppend(batch);
      model.append(batch);
    } else if (choice < 6) {
      const out = tail.entriesToPersist();
      assert.deepEqual(out, model.entries.slice(model.inProgressOffset - model.offset), `seed ${seed}: entries to persist at step ${step}`);
      tail.acceptInProgress();
      model.inProgressOffset = model.end;
      if (out.length > 0) handedOut.push(out);
    } else if (choice < 8 && handedOut.length > 0) {
      const written = handedOut.shift()!;
      const last = written[written.length - 1]!;
      tail.stableTo(last.index, last.term);
      model.stableTo(last.index, last.term);
    } else if (choice === 8 && model.end > model.offset && random.intBelow(4) === 0) {
      // An acknowledgement of one entry inside an array (the first array then starts below offset).
      const index = model.offset + random.intBelow(model.end - model.offset);
      const entryTerm = model.entries[index - model.offset]!.term;
      tail.stableTo(index, entryTerm);
      model.stableTo(index, entryTerm);
    } else if (choice === 9 && random.intBelow(20) === 0) {
      const point = { index: model.end + random.intBelow(5), term, membership: { voters: [1], learners: [] } };
      tail.restore(point);
      tail.stableSnapshotTo(point.index);
      model.offset = point.index + 1;
      model.entries = [];
      model.inProgressOffset = model.offset;
      handedOut.length = 0;
    } else if (model.end > model.offset) {
      const low = model.offset + random.intBelow(model.end - model.offset);
      const high = low + 1 + random.intBelow(model.end - low);
      const bytesMax = random.intBelow(3) === 0 ? Number.MAX_SAFE_INTEGER : random.intBelow(200);
      assert.deepEqual(tail.slice(low, high, bytesMax), model.slice(low, high, bytesMax), `seed ${seed}: slice [${low}, ${high}) within ${bytesMax} at step ${step}`);
    }
    assert.equal(tail.offset, model.offset, `seed ${seed}: offset at step ${step}`);
    assert.equal(tail.endIndex, model.end, `seed ${seed}: end at step ${step}`);
    assert.equal(tail.inProgressOffset, model.inProgressOffset, `seed ${seed}: in-progress offset at step ${step}`);
    for (let index = model.offset - 1; index <= model.end; index++) {
      const expected = index >= model.offset && index < model.end ? model.entries[index - model.offset]!.term : undefined;
      assert.equal(tail.maybeTerm(index), expected, `seed ${seed}: term at ${index}, step ${step}`);
    }
  }
}

test("the unstable tail answers as one plain array would, over random appends, replacements, hand-outs and acknowledgements", () => {
  for (let seed = 1; seed <= 200; seed++) runSeed(seed);
});

test("an appended array is held as it came, not copied, and handed out whole when it is all that is new", () => {
  const tail = new Unstable(1);
  const random = new SeededRandom(3);
  const first = entries(1, 5, 1, random);
  const second = entries(6, 5, 1, random);
  tail.truncateAndAppend(first);
  assert.equal(tail.entriesToPersist(), first);
  tail.acceptInProgress();
  tail.truncateAndAppend(second);
  assert.equal(tail.entriesToPersist(), second);
  // Both at once are joined into a new array; the ones held are not changed.
  assert.deepEqual(tail.slice(3, 9), [...first.slice(2), ...second.slice(0, 3)]);
  assert.equal(first.length, 5);
  assert.equal(second.length, 5);
});

test("a read across hundreds of thousands of one-entry arrays is answered whole (a leader's unary proposals behind a stalled disk)", () => {
  const tail = new Unstable(1);
  const count = 300_000;
  const data = new Uint8Array(1);
  for (let index = 1; index <= count; index++) tail.truncateAndAppend([{ index, term: 1, type: EntryType.Normal, data, timestampMs: 7 }]);
  const out = tail.entriesToPersist();
  assert.equal(out.length, count);
  assert.equal(out[0]!.index, 1);
  assert.equal(out[count - 1]!.index, count);
  assert.equal(tail.slice(1000, 200_000, Number.MAX_SAFE_INTEGER).length, 199_000);
});
