// Randomness for a randomised test, from a seed that the test prints (and that LOGHOUSE_TEST_SEED
// sets), so that a failure names the seed that replays its choices.
import { randomInt } from "node:crypto";
import type { TestContext } from "node:test";
import { SeededRandom } from "../../src/raft/random.ts";

export class TestRandom {
  private readonly source: SeededRandom;

  constructor(readonly seed: number) {
    this.source = new SeededRandom(seed);
  }

  /** The seed from LOGHOUSE_TEST_SEED, or a new one; reported as the test's diagnostic. */
  static forTest(t: TestContext): TestRandom {
    const given = process.env.LOGHOUSE_TEST_SEED;
    const seed = given === undefined ? randomInt(2 ** 31) : Number(given);
    t.diagnostic(`seed ${seed} (replay with LOGHOUSE_TEST_SEED=${seed})`);
    return new TestRandom(seed);
  }

  /** An integer in [min, max). */
  int(min: number, max: number): number {
    return min + this.source.intBelow(max - min);
  }

  bytes(length: number): Buffer {
    const out = Buffer.alloc(length);
    for (let i = 0; i < length; i++) out[i] = this.source.intBelow(256);
    return out;
  }
}
