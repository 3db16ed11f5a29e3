// A consume stops when its signal aborts, wherever it is waiting: for a unary call (its start, a
// fetch), for a member to connect, or between attempts. Those waits take no signal of their own, so
// the consume stops waiting for them instead; the call itself ends at its deadline, unobserved.

/** `work`'s outcome, or a rejection with `signal`'s reason as soon as it aborts (at once if it has). */
export function untilAborted<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return work;
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    work.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
    if (signal.aborted) onAbort();
  });
}
