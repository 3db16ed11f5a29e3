import { assert } from "./assert.ts";

/** A source of randomness. The core only draws election timeouts from it. */
export interface RandomSource {
  /** A uniformly distributed integer in [0, bound). */
  intBelow(bound: number): number;
}

/**
 * A small, fast, seeded generator (sfc32 seeded through splitmix32). Deterministic: the same seed gives
 * the same sequence on every machine, which is what lets a failing simulation replay exactly.
 */
export class SeededRandom implements RandomSource {
  private a: number;
  private b: number;
  private c: number;
  private d: number;

  constructor(seed: number) {
    assert(Number.isSafeInteger(seed), `seed must be a safe integer, got ${seed}`);
    let s = (seed ^ Math.floor(seed / 0x100000000)) >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.a = next();
    this.b = next();
    this.c = next();
    this.d = next();
    for (let i = 0; i < 12; i++) this.nextUint32();
  }

  /** The next 32 random bits as an unsigned integer. */
  nextUint32(): number {
    const t = (((this.a + this.b) >>> 0) + this.d) >>> 0;
    this.d = (this.d + 1) >>> 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) >>> 0;
    this.c = ((this.c << 21) | (this.c >>> 11)) >>> 0;
    this.c = (this.c + t) >>> 0;
    return t;
  }

  intBelow(bound: number): number {
    assert(Number.isSafeInteger(bound), `bound must be an integer, got ${bound}`);
    assert(bound > 0 && bound <= 0x100000000, `bound out of range: ${bound}`);
    return Math.floor((this.nextUint32() / 0x100000000) * bound);
  }

  /** True with probability `probability` (in [0, 1]). */
  chance(probability: number): boolean {
    assert(probability >= 0 && probability <= 1, `probability out of range: ${probability}`);
    return this.nextUint32() / 0x100000000 < probability;
  }

  /** A uniformly chosen element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    assert(items.length > 0, "cannot pick from an empty array");
    return items[this.intBelow(items.length)] as T;
  }
}
