// Time as the cluster layer sees it, handed down at construction: production uses the system's
// clock and timers; the simulator hands each node a simulated clock (skewed and drifting per node)
// whose timers fire from its event queue. No class of the cluster layer reads Date.now or sets a
// timer on its own.

export interface Timers {
  /** Milliseconds since the epoch by this node's clock (record creation times, deadlines). */
  now(): number;
  /** Runs `run` every `ms` milliseconds until the returned function is called. */
  every(ms: number, run: () => void): () => void;
  /** Runs `run` once after `ms` milliseconds unless the returned function is called first. */
  after(ms: number, run: () => void): () => void;
  /** Runs `run` once the work that is due now is done (the rest of this event-loop turn's I/O callbacks). */
  soon(run: () => void): void;
}

/** The system's clock and timers; the timers never keep the process alive on their own. */
export const systemTimers: Timers = {
  now: () => Date.now(),
  every(ms, run) {
    const timer = setInterval(run, ms).unref();
    return () => clearInterval(timer);
  },
  after(ms, run) {
    const timer = setTimeout(run, ms).unref();
    return () => clearTimeout(timer);
  },
  soon(run) {
    setImmediate(run);
  },
};

/** Waits `ms` on `timers`, or rejects with `signal`'s reason as soon as it aborts. */
export function delay(timers: Timers, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted === true) return reject(signal.reason);
    const onAbort = (): void => {
      cancel();
      reject(signal?.reason);
    };
    const cancel = timers.after(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
