// The numbers an exactly-once client gives its produce calls, kept within a span: a new call waits
// while its number would be `span` or more past the oldest call still unsettled. The leader
// remembers only the last producers.sequencesPerProducerMax numbers of a producer (128 by
// default), so a slow call (retried through a failover while other callers go on) must not fall
// that far behind, or its retry would be refused as SEQUENCE_TOO_OLD with its outcome unknown.
export class SequenceWindow {
  private next = 0n;
  private readonly unsettled = new Set<bigint>();
  private waiters: Array<() => void> = [];

  constructor(private readonly span: bigint) {}

  /** The next number, once it is within the span of the oldest unsettled one. */
  async take(): Promise<bigint> {
    while (this.unsettled.size > 0 && this.next - this.oldest() >= this.span) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    const sequence = this.next++;
    this.unsettled.add(sequence);
    return sequence;
  }

  /** The call numbered `sequence` is over (answered, or given up). */
  settle(sequence: bigint): void {
    this.unsettled.delete(sequence);
    for (const wake of this.waiters.splice(0)) wake();
  }

  /** Numbers are taken in increasing order and a Set iterates in insertion order: the first is the oldest. */
  private oldest(): bigint {
    return this.unsettled.values().next().value ?? this.next;
  }
}
