// Forwarding of a follower's produce to the leader over the peer connections (ForwardRequest,
// ForwardResponse and ForwardCancel over the Raft transport, as range-repair.ts sends its requests),
// so that a client can write through any member without the node dialling the leader's public API.
//
// The follower sends the records once encoded in the frame, with what is left of the caller's
// deadline and the trace context, and waits for the answer until the caller goes away (cancelled,
// or its deadline passed), the deadline (capped) passes, or the node closes; then it sends a cancel.
// The leader appends a forward as its own produce on the event-loop turn after the one that read it,
// so a cancel read in the same turn (a request and its cancel waiting together in the socket, as
// after the leader was paused) stops it; a cancel read once the proposal is made changes nothing:
// the records may then be appended although the caller was told DEADLINE_EXCEEDED or CANCELLED, as
// with any RPC whose deadline passes while the server works. A forward whose own deadline, counted
// from when the leader read it, passed before its turn is answered DEADLINE_EXCEEDED unappended.
//
// Idempotent producers' batches are not forwarded: the follower answers NOT_LEADER and the routing
// client sends them to the leader (replicated-log.ts says why).
//
// Bounds: forwards in flight per peer (each way) and bytes in flight to a peer, both refused with
// ForwardsInFlightError beyond; a forward lasts at most `timeoutMsMax` whatever the caller's deadline.
import {
  ClusterUnavailableError,
  ForwardsInFlightError,
  LoghouseError,
  NotLeaderError,
  RpcCode,
  RpcError,
} from "../errors.ts";
import type { AppendCall } from "../storage/index.ts";
import type { ForwardMessage, ForwardRequest, ForwardResponse } from "./peer-message.ts";

/** An append to forward: the call's signal and deadline, and the forward span's W3C traceparent when traced. */
export interface ForwardCall extends AppendCall {
  readonly traceparent?: string;
}

export interface AppendForwardingOptions {
  readonly nodeId: number;
  /** Queues a message for its peer; false if it could not be (the peer is unreachable, its queue full). */
  readonly send: (message: ForwardMessage) => boolean;
  /** Appends forwarded records as this node's own produce (rejects NotLeaderError on a follower); `traceparent` is "" untraced. */
  readonly append: (values: readonly Uint8Array[], traceparent: string) => Promise<number>;
  /** Forwards in flight to one peer, and from one peer, at most. */
  readonly inFlightMax: number;
  /** Record bytes in flight to one peer at most. */
  readonly bytesInFlightMax: number;
  /** The longest a forward waits for its answer, whatever the caller's deadline. */
  readonly timeoutMsMax: number;
}

/** A forward this node sent and waits on. */
interface Outgoing {
  readonly peer: number;
  readonly bytes: number;
  readonly settle: (response: ForwardResponse) => void;
}

/** A forward a peer sent this node, until its append settles or it is cancelled before it begins. */
interface Incoming {
  cancelled: boolean;
}

export class AppendForwarding {
  private nextId = 1;
  private readonly outgoing = new Map<number, Outgoing>();
  /** Forwards and record bytes in flight to each peer. */
  private readonly sentTo = new Map<number, { count: number; bytes: number }>();
  /** Forwards received, by sender and id. */
  private readonly incoming = new Map<number, Map<number, Incoming>>();
  private closedReason: Error | undefined;

  constructor(private readonly options: AppendForwardingOptions) {}

  /** Forwards sent and waiting for their answer. */
  get waiting(): number {
    return this.outgoing.size;
  }

  /** Forwards received and not yet answered (or dropped, once cancelled). */
  get serving(): number {
    let count = 0;
    for (const fromPeer of this.incoming.values()) count += fromPeer.size;
    return count;
  }

  /**
   * Asks `leader` to append `values`; resolves with their first offset. Rejects with the leader's
   * typed error (NotLeaderError when it no longer leads), with the call's abort reason when the
   * caller goes away first, with RpcError DEADLINE_EXCEEDED when the deadline passes, with
   * ClusterUnavailableError if the leader cannot be reached, or ForwardsInFlightError beyond the bounds.
   */
  forward(leader: number, values: readonly Uint8Array[], call: ForwardCall = {}): Promise<number> {
    if (this.closedReason !== undefined) return Promise.reject(this.closedReason);
    if (call.signal?.aborted === true) return Promise.reject(call.signal.reason);
    const timeoutMs = Math.ceil(Math.min(call.timeoutMs?.() ?? this.options.timeoutMsMax, this.options.timeoutMsMax));
    if (timeoutMs <= 0) return Promise.reject(deadlineExceeded());
    let bytes = 0;
    for (const value of values) bytes += value.length;
    const usage = this.sentTo.get(leader) ?? { count: 0, bytes: 0 };
    if (usage.count >= this.options.inFlightMax || usage.bytes + bytes > this.options.bytesInFlightMax) {
      return Promise.reject(new ForwardsInFlightError(`too many appends in flight to the leader (${usage.count}, ${usage.bytes} bytes); retry shortly`));
    }
    const id = this.nextId++;
    const { nodeId } = this.options;
    return new Promise<number>((resolve, reject) => {
      const finish = (): void => {
        clearTimeout(timer);
        call.signal?.removeEventListener("abort", onAbort);
        this.outgoing.delete(id);
        usage.count -= 1;
        usage.bytes -= bytes;
        if (usage.count === 0) this.sentTo.delete(leader);
      };
      const giveUp = (reason: unknown): void => {
        finish();
        this.options.send({ type: "forward-cancel", from: nodeId, to: leader, id });
        reject(reason);
      };
      const onAbort = (): void => giveUp(call.signal?.reason);
      const timer = setTimeout(() => giveUp(deadlineExceeded()), timeoutMs);
      call.signal?.addEventListener("abort", onAbort, { once: true });
      usage.count += 1;
      usage.bytes += bytes;
      this.sentTo.set(leader, usage);
      this.outgoing.set(id, {
        peer: leader,
        bytes,
        settle: (response) => {
          finish();
          if (response.rpcCode === 0) resolve(response.firstOffset);
          else reject(errorOf(response));
        },
      });
      const request: ForwardRequest = { type: "forward-request", from: nodeId, to: leader, id, timeoutMs, traceparent: call.traceparent ?? "", values };
      if (!this.options.send(request)) {
        finish();
        reject(new ClusterUnavailableError("the leader is unreachable from this node; retry shortly"));
      }
    });
  }

  /** A forward message from a peer: a request is appended, a cancel stops one not begun, a response settles its forward. */
  receive(message: ForwardMessage): void {
    if (message.type === "forward-request") this.serve(message);
    else if (message.type === "forward-cancel") {
      const incoming = this.incoming.get(message.from)?.get(message.id);
      if (incoming !== undefined) incoming.cancelled = true;
    } else {
      const outgoing = this.outgoing.get(message.id);
      // A response to a forward given up (or from another peer than asked) has nobody to go to.
      if (outgoing !== undefined && outgoing.peer === message.from) outgoing.settle(message);
    }
  }

  /** Fails every forward waiting for an answer with `reason`, and any forward asked from now on. */
  close(reason: Error): void {
    this.closedReason = reason;
    for (const outgoing of [...this.outgoing.values()]) {
      outgoing.settle({ type: "forward-response", from: outgoing.peer, to: this.options.nodeId, id: 0, firstOffset: 0, rpcCode: RpcCode.unavailable, code: "CLUSTER_UNAVAILABLE", message: reason.message, leaderId: 0 });
    }
  }

  /** Appends a peer's forward on the next turn unless cancelled or expired by then, and answers it. */
  private serve(request: ForwardRequest): void {
    const { from, id } = request;
    const fromPeer = this.incoming.get(from) ?? new Map<number, Incoming>();
    if (fromPeer.size >= this.options.inFlightMax) {
      this.answer(request, new ForwardsInFlightError(`too many appends in flight from node ${from}; retry shortly`));
      return;
    }
    const incoming: Incoming = { cancelled: false };
    fromPeer.set(id, incoming);
    this.incoming.set(from, fromPeer);
    const readMs = performance.now();
    const release = (): void => {
      fromPeer.delete(id);
      if (fromPeer.size === 0 && this.incoming.get(from) === fromPeer) this.incoming.delete(from);
    };
    setImmediate(() => {
      if (incoming.cancelled) return release();
      if (performance.now() - readMs >= request.timeoutMs) {
        release();
        return this.answer(request, deadlineExceeded());
      }
      this.options.append(request.values, request.traceparent).then(
        (firstOffset) => this.answer(request, firstOffset),
        (error: unknown) => this.answer(request, error),
      ).finally(release);
    });
  }

  /** Sends the answer to `request`: its first offset, or the typed error its append failed with. */
  private answer(request: ForwardRequest, outcome: number | unknown): void {
    const base = { type: "forward-response", from: this.options.nodeId, to: request.from, id: request.id } as const;
    if (typeof outcome === "number") {
      this.options.send({ ...base, firstOffset: outcome, rpcCode: 0, code: "", message: "", leaderId: 0 });
      return;
    }
    // Anything but a catalogue error is a broken invariant: it crashes the process, as it would unforwarded.
    if (!(outcome instanceof LoghouseError)) throw outcome;
    const leaderId = outcome instanceof NotLeaderError ? outcome.leaderId : 0;
    this.options.send({ ...base, firstOffset: 0, rpcCode: outcome.rpcCode, code: outcome.code, message: outcome.message, leaderId });
  }
}

function deadlineExceeded(): RpcError {
  return new RpcError("deadline exceeded while the leader appended a forwarded produce", RpcCode.deadlineExceeded);
}

const knownRpcCodes: ReadonlySet<number> = new Set(Object.values(RpcCode));

/** The error a leader's answer names, as the catalogue class where the follower acts on it. */
function errorOf(response: ForwardResponse): LoghouseError {
  if (response.code === "NOT_LEADER") return new NotLeaderError(response.message, response.leaderId);
  if (response.code === "CLUSTER_UNAVAILABLE") return new ClusterUnavailableError(response.message);
  if (response.code === "FORWARDS_IN_FLIGHT") return new ForwardsInFlightError(response.message);
  const rpcCode = knownRpcCodes.has(response.rpcCode) ? (response.rpcCode as RpcCode) : RpcCode.unknown;
  return new RpcError(response.message, rpcCode);
}
