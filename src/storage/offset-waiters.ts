// Callers waiting for an offset to become readable (tail readers). Waiting costs nothing while idle:
// no timer, no polling; each commit releases the waiters it satisfied.

interface Waiter {
  readonly offset: number;
  readonly resolve: () => void;
  readonly reject: (reason: unknown) => void;
}

export class OffsetWaiters {
  private waiters = new Set<Waiter>();
  /** Set once closed: why every wait fails from then on. */
  private closedWith: { readonly reason: unknown } | undefined;

  get size(): number {
    return this.waiters.size;
  }

  /** Resolves when release() is called with an end beyond `offset`; rejects with the signal's reason on abort. */
  wait(offset: number, signal?: AbortSignal): Promise<void> {
    if (this.closedWith !== undefined) return Promise.reject(this.closedWith.reason);
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = {
        offset,
        resolve: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve();
        },
        reject: (reason) => {
          signal?.removeEventListener("abort", onAbort);
          reject(reason);
        },
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.add(waiter);
    });
  }

  /** Resolves every waiter whose offset is below `end`. */
  release(end: number): void {
    for (const waiter of this.waiters) {
      if (waiter.offset >= end) continue;
      this.waiters.delete(waiter);
      waiter.resolve();
    }
  }

  /** Rejects every waiter with `reason`, and every wait after this at once: what they wait on will not come. */
  close(reason: unknown): void {
    this.closedWith = { reason };
    const waiters = this.waiters;
    this.waiters = new Set();
    for (const waiter of waiters) waiter.reject(reason);
  }
}
