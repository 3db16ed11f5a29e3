// Waiting for work that a signal cannot cancel, but can stop the wait for: the routing client's
// search for a member (shared by every call that needs one, so no one call may cancel it), and a
// connection being made (grpc-js goes on trying it for the channel).

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
