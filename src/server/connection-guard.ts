// Per-connection limits of the HTTP/2 server against clients that cost more than they use. A client
// that resets streams faster than the limit allows (the rapid reset of CVE-2023-44487: open a stream,
// send the request, reset it, repeat; every reset frees a place in SETTINGS_MAX_CONCURRENT_STREAMS
// while the work it started may still run), or that has more calls in progress than it may have
// streams open, gets GOAWAY with ENHANCE_YOUR_CALM and its connection is closed. A connection without
// a call in progress for the idle timeout (one that stopped after the preface, say) gets GOAWAY with
// NO_ERROR, so that it does not hold one of the connectionsMax places forever.
import { constants, type ServerHttp2Session, type ServerHttp2Stream } from "node:http2";

export interface ConnectionGuardLimits {
  /** Streams the client may reset (or have reset before the server saw them) within one window. */
  readonly streamResetsMax: number;
  readonly streamResetWindowMs: number;
  /** Calls in progress, counting a reset stream until its call has ended. */
  readonly callsMax: number;
  /** A connection without a call in progress for this long is closed. */
  readonly idleTimeoutMs: number;
}

export type GuardViolation = "stream resets" | "calls in progress";

export class ConnectionGuard {
  private callsInProgress = 0;
  private resetWindowStartMs: number;
  private resetsInWindow = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  private shut = false;

  /** Watches `session` from its start; `now` is the server's clock in milliseconds. */
  constructor(
    private readonly session: ServerHttp2Session,
    private readonly limits: ConnectionGuardLimits,
    private readonly now: () => number,
    private readonly onViolation: (violation: GuardViolation) => void,
  ) {
    this.resetWindowStartMs = now();
    this.armIdleTimer();
    session.once("close", () => {
      this.shut = true;
      clearTimeout(this.idleTimer);
    });
  }

  /**
   * Admits a new stream, or returns false when its connection is being closed (for this stream or
   * earlier). A stream that the client reset before the server saw it is counted and not admitted.
   */
  admit(stream: ServerHttp2Stream): boolean {
    if (this.shut) return false;
    if (stream.closed) {
      this.countReset();
      return false;
    }
    if (this.callsInProgress >= this.limits.callsMax) {
      this.violate("calls in progress");
      return false;
    }
    return true;
  }

  /** Counts an admitted stream's call as in progress until `ended` settles; a reset by the client counts against the reset limit. */
  track(stream: ServerHttp2Stream, ended: Promise<unknown>): void {
    this.callsInProgress++;
    stream.once("aborted", () => this.countReset());
    void ended.finally(() => {
      this.callsInProgress--;
      if (this.callsInProgress === 0) this.armIdleTimer();
    });
  }

  private countReset(): void {
    const now = this.now();
    if (now - this.resetWindowStartMs >= this.limits.streamResetWindowMs) {
      this.resetWindowStartMs = now;
      this.resetsInWindow = 0;
    }
    this.resetsInWindow++;
    if (this.resetsInWindow > this.limits.streamResetsMax) this.violate("stream resets");
  }

  private violate(violation: GuardViolation): void {
    if (this.shut) return;
    this.shut = true;
    this.onViolation(violation);
    // The GOAWAY goes out before the socket closes; every call on the connection is cancelled.
    this.session.goaway(constants.NGHTTP2_ENHANCE_YOUR_CALM);
    this.session.destroy();
  }

  /**
   * Starts the idle timeout again. One timer serves the connection's life, moved on by each call
   * that ends the connection's last call in progress (a timer made per call cost a connection with
   * one call at a time a Timeout object and a timer-list insertion per call); while calls are in
   * progress it may fire, and does nothing.
   */
  private armIdleTimer(): void {
    if (this.shut) return;
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => this.closeIfIdle(), this.limits.idleTimeoutMs);
    } else {
      this.idleTimer.refresh();
    }
  }

  private closeIfIdle(): void {
    if (this.shut || this.callsInProgress > 0) return;
    this.shut = true;
    this.session.close();
  }
}
