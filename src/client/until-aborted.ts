// A consume stops when its signal aborts, wherever it is waiting: for a unary call (its start, a
// fetch), or for the routing client to find or connect to a member. Those waits take no signal of
// their own, so the consume stops waiting for them instead: the call goes on, unobserved, until it
// settles (the routing client's at its deadline; a single-node client's, without callTimeoutMs, when
// the node answers or the client is closed).
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
