// Plain proposals made in one turn of the event loop go to the Raft core as one proposal: the leader
// then sends each follower one append message for all of them, not one per call, and each follower
// answers once. Under 64 concurrent unary produces the leader's socket writes alone took ~15% of its
// CPU per call, one append message per call per follower (bench:cluster, a CPU profile of the leader).
//
// Each caller still gets the index range of its own entries, and waits for that range alone to
// commit, so its outcome (committed, refused, lost to a leader change) is what a proposal of its own
// would have had. A refusal of the whole (not the leader, too many entries uncommitted) is every
// caller's, as it would have been for each alone in that turn.
//
// "One turn" is up to the end of the turn's I/O callbacks (Timers.soon: setImmediate), not the end
// of the current microtask queue: Node runs the microtasks after each HTTP/2 stream's callback, so a
// microtask would close the batch after every request. Waiting for the turn's end costs a lone
// proposal an event-loop iteration, so the replica proposes at once when nothing else is under way
// (a single producer waiting on each call), and coalesces only behind proposals not yet committed.

/** Where a proposal's entries went: the leader's term and the first and last Raft index. */
export interface ProposedRange {
  readonly term: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
}

interface Waiting {
  readonly count: number;
  readonly resolve: (range: ProposedRange) => void;
  readonly reject: (error: unknown) => void;
}

export class ProposalCoalescer {
  private values: Uint8Array[] = [];
  private waiting: Waiting[] = [];

  constructor(
    /** Proposes `values` to the core now; returns where they went, or throws the refusal. */
    private readonly proposeToCore: (values: readonly Uint8Array[]) => ProposedRange,
    /** The most entries one proposal may hold (the core's proposalEntriesMax). */
    private readonly entriesMax: number,
    /** Runs the flush once this turn's other work is done (Timers.soon). */
    private readonly soon: (run: () => void) => void,
  ) {}

  /** Whether proposals are waiting for the end of the turn. */
  get holding(): boolean {
    return this.waiting.length > 0;
  }

  /** Queues `values` (1 to entriesMax of them) to be proposed with the others of this turn; resolves with their own range. */
  add(values: readonly Uint8Array[]): Promise<ProposedRange> {
    if (this.values.length + values.length > this.entriesMax) this.flush();
    if (this.waiting.length === 0) this.soon(() => this.flush());
    for (const value of values) this.values.push(value);
    return new Promise((resolve, reject) => this.waiting.push({ count: values.length, resolve, reject }));
  }

  /** Proposes what is queued as one proposal and tells each caller its part. */
  private flush(): void {
    if (this.waiting.length === 0) return;
    const { values, waiting } = this;
    this.values = [];
    this.waiting = [];
    let range: ProposedRange;
    try {
      range = this.proposeToCore(values);
    } catch (error) {
      for (const caller of waiting) caller.reject(error);
      return;
    }
    let first = range.firstIndex;
    for (const caller of waiting) {
      caller.resolve({ term: range.term, firstIndex: first, lastIndex: first + caller.count - 1 });
      first += caller.count;
    }
  }
}
