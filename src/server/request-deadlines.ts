// The time a call's request may take to arrive whole (limits.requestTimeoutMs), for the HTTP/2 calls
// that send one request (unary and server-streaming; a client-streaming call's requests take as long
// as they take). Without it a client that stalls part way through a request's body holds the stream
// for good: one of its connection's streamsPerConnectionMax and of the node's streamsMax, so a few
// connections of stalled requests refuse everyone else. HTTP/1.1 has Node's own requestTimeout.
//
// One timer for every call, sweeping the calls whose request is still arriving: a timer per call
// would cost each unary call more than joining and leaving a set does. A request is cut between
// one and one and a quarter timeouts after it started.

/** A call whose request is still arriving. */
export interface ArrivingRequest {
  /** When the call started (performance.now() time). */
  readonly startedMs: number;
  /** Its request did not arrive whole within `timeoutMs`: end the call. */
  requestTimedOut(timeoutMs: number): void;
}

export class RequestDeadlines {
  private readonly arriving = new Set<ArrivingRequest>();
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly timeoutMs: number) {
    this.timer = setInterval(() => this.sweep(), Math.max(10, Math.floor(timeoutMs / 4))).unref();
  }

  /** `request` is arriving: it is timed out unless left (arrived) within the timeout of its start. */
  watch(request: ArrivingRequest): void {
    this.arriving.add(request);
  }

  /** `request` arrived whole, or its call ended. */
  arrived(request: ArrivingRequest): void {
    this.arriving.delete(request);
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private sweep(): void {
    const now = performance.now();
    for (const request of this.arriving) {
      if (now - request.startedMs < this.timeoutMs) continue;
      this.arriving.delete(request);
      request.requestTimedOut(this.timeoutMs);
    }
  }
}
