// Proposals made in one turn of the event loop reach the followers together: each goes to the Raft
// core at once without being sent (in call order, each with its own index range, batch mark and
// refusal), and at the turn's end the leader sends each follower one append message for all of them,
// not one per call, which each follower then answers once. Under 64 concurrent unary produces from a
// stock client the leader had sent 3.5 messages per call, and its followers spent half their CPU on
// them (bench:cluster, a CPU profile of each node).
//
// "One turn" lasts to the end of the turn's I/O callbacks (Timers.soon: setImmediate), not the end of
// the current microtask queue: Node runs the microtasks after each HTTP/2 stream's callback, so a
// microtask would close the batch after every request. Waiting for the turn's end costs a lone
// proposal an event-loop iteration, so the replica proposes at once when nothing else is under way
// (a single producer waiting on each call) and comes here only behind proposals not yet committed.

/** Where a proposal's entries went: the leader's term and the first and last Raft index of its values. */
export interface ProposedRange {
  readonly term: number;
  readonly firstIndex: number;
  readonly lastIndex: number;
}

/** The core as the coalescer drives it. */
export interface QuietProposer {
  /** Hands `values` (after `mark` if given) to the core without sending them; returns where they went, or throws the refusal. */
  proposeQuietly(values: readonly Uint8Array[], mark: Uint8Array | undefined): ProposedRange;
  /** Sends the followers what was proposed quietly. */
  sendProposed(): void;
}

interface Waiting {
  readonly values: readonly Uint8Array[];
  readonly mark: Uint8Array | undefined;
  readonly resolve: (range: ProposedRange) => void;
  readonly reject: (error: unknown) => void;
}

export class ProposalCoalescer {
  private waiting: Waiting[] = [];

  constructor(
    private readonly core: QuietProposer,
    /** Runs the flush once this turn's other work is done (Timers.soon). */
    private readonly soon: (run: () => void) => void,
  ) {}

  /** Whether proposals are waiting for the end of the turn. */
  get holding(): boolean {
    return this.waiting.length > 0;
  }

  /** Queues `values` (after `mark` if given) to be proposed at the turn's end; resolves with where they went. */
  add(values: readonly Uint8Array[], mark?: Uint8Array): Promise<ProposedRange> {
    if (this.waiting.length === 0) this.soon(() => this.flush());
    return new Promise((resolve, reject) => this.waiting.push({ values, mark, resolve, reject }));
  }

  /** Proposes what is queued, in order, then sends it in one message per follower. */
  private flush(): void {
    const waiting = this.waiting;
    this.waiting = [];
    let proposed = false;
    for (const caller of waiting) {
      try {
        caller.resolve(this.core.proposeQuietly(caller.values, caller.mark));
        proposed = true;
      } catch (error) {
        caller.reject(error);
      }
    }
    if (proposed) this.core.sendProposed();
  }
}
