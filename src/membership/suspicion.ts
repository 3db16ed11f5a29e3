// Lifeguard's suspicion timer (hashicorp/memberlist suspicion.go): a suspicion starts at its longest
// timeout and shrinks logarithmically towards the shortest as independent members confirm it, so a
// member that really failed is declared dead quickly, while a lone slow accuser (whose own health may
// be the problem) has to wait the longest.
import assert from "node:assert/strict";

export class Suspicion {
  private readonly confirmers = new Set<string>();

  /**
   * @param startMs when the suspicion began
   * @param minMs, maxMs the timeout with `expected` confirmations and with none
   * @param expected confirmations that bring the timeout down to `minMs` (0: always `minMs`)
   * @param from the member that raised it (its own later accusations are not confirmations)
   */
  constructor(
    private readonly startMs: number,
    private readonly minMs: number,
    private readonly maxMs: number,
    private readonly expected: number,
    from: string,
  ) {
    assert(minMs > 0 && minMs <= maxMs, `bad suspicion bounds [${minMs}, ${maxMs}]`);
    assert(Number.isSafeInteger(expected) && expected >= 0, `bad expected confirmations ${expected}`);
    this.confirmers.add(from);
  }

  /** Records an accusation by `from`; true when it is a new independent confirmation worth re-gossiping. */
  confirm(from: string): boolean {
    if (this.confirmations() >= this.expected || this.confirmers.has(from)) return false;
    this.confirmers.add(from);
    return true;
  }

  confirmations(): number {
    return this.confirmers.size - 1;
  }

  /** When the suspect is declared dead unless it refutes first. */
  deadlineMs(): number {
    if (this.expected < 1) return this.startMs + this.minMs;
    const fraction = Math.log(this.confirmations() + 1) / Math.log(this.expected + 1);
    const timeout = Math.max(this.minMs, Math.floor(this.maxMs - fraction * (this.maxMs - this.minMs)));
    return this.startMs + timeout;
  }
}
