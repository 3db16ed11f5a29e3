// When the routing client tries a call again, and how long it waits first. Reads change nothing,
// so any answer that says "not here, not now" (UNAVAILABLE, a removed node) is tried again on
// another member. A produce (or a membership change) is tried again only when it certainly did not
// reach a node that could act on it: the connection could not be made (nothing was sent), or the
// node refused it before appending (NOT_LEADER, NODE_REMOVED). After an ambiguous failure (a
// connection lost mid-call, a leader that lost its quorum) the records may or may not be in the
// log: retrying could write them twice, so it happens only under "at-least-once", or under
// "exactly-once" (the default), where each produce names the client's producer id and a sequence
// of its own, so that the leader answers a retry of an appended batch with its first offsets.
import { ClusterMismatchError, ClusterUnavailableError, LoghouseError, NodeRemovedError, NotLeaderError, RpcCode, SequenceTooOldError } from "../errors.ts";
import { MembersRemovedError, MembersUnreachableError } from "./cluster-view.ts";
import { NotConnectedError } from "./node-channel.ts";
import { integerOption, TIMER_MS_MAX } from "./option-checks.ts";

/**
 * What a produce may risk: "exactly-once" (the default) retries ambiguous failures as an idempotent
 * producer, which the leader appends once; "at-most-once" never writes a record twice but gives up
 * on an ambiguous failure; "at-least-once" retries it and may write the records twice (for servers
 * without the idempotent producer).
 */
export type ProduceDelivery = "exactly-once" | "at-most-once" | "at-least-once";

/** The kind of call being retried: a read changes nothing; a write (a produce, a membership change) may. */
export type CallKind = "read" | "write";

/** Whether the node certainly did not append anything for this failed call. */
export function refusedBeforeAppend(error: unknown): boolean {
  return error instanceof NotConnectedError || error instanceof NotLeaderError || error instanceof NodeRemovedError;
}

/** Whether the attempt reached no node of this cluster that could append: nothing sent, not the leader, another cluster's node. */
function reachedNoOne(error: unknown): boolean {
  return refusedBeforeAppend(error) || error instanceof MembersUnreachableError || error instanceof ClusterMismatchError;
}

/** Answers a node gives before appending anything: the request itself is refused. */
const REFUSALS: ReadonlySet<RpcCode> = new Set([
  RpcCode.invalidArgument,
  RpcCode.resourceExhausted,
  RpcCode.permissionDenied,
  RpcCode.unauthenticated,
  RpcCode.failedPrecondition,
  RpcCode.outOfRange,
  RpcCode.notFound,
  RpcCode.unimplemented,
]);

/**
 * Whether the records of a write that failed with `error` may be in the log anyway: anything but a
 * failure that proves nothing was appended (nothing sent, not the leader, a refusal of the request).
 */
export function mayHaveAppended(error: unknown): boolean {
  if (reachedNoOne(error)) return false;
  // Too old to tell: the batch may have been appended long ago.
  if (error instanceof SequenceTooOldError) return true;
  return !(error instanceof LoghouseError && REFUSALS.has(error.rpcCode));
}

/**
 * The error a write gives up with. After an attempt whose outcome is unknown, a last failure that
 * only says the last attempt reached no one (nothing `sent`: no member reachable, none that knows a
 * leader; or not the leader, a node of another cluster) would tell the caller nothing was appended:
 * it is reported as unavailable, naming the doubt, with that failure as its cause. A node's refusal
 * of the request (permission denied, too large) keeps its own type.
 */
export function writeFailure(error: unknown, outcomeUnknown: boolean, sent: boolean): unknown {
  if (!outcomeUnknown || (sent && !reachedNoOne(error))) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new ClusterUnavailableError(`${message} (after an earlier attempt whose outcome is unknown: its records may be in the log)`, { cause: error });
}

/**
 * Whether another member (or the same one, later) may answer differently. CANCELLED counts: the
 * caller's own cancellation never reaches here (unary calls take no signal, and a stream checks its
 * signal first), so it is a server or proxy resetting the call as it shuts down, as ambiguous as a
 * connection lost.
 */
export function transient(error: unknown): boolean {
  if (error instanceof MembersRemovedError) return false;
  return error instanceof NodeRemovedError || (error instanceof LoghouseError && (error.rpcCode === RpcCode.unavailable || error.rpcCode === RpcCode.cancelled));
}

/**
 * Whether a failed call of `kind` may be tried again under `delivery` (a write's; reads ignore it).
 * No member reachable at all (or none but nodes removed from the cluster) is final, except for a write whose earlier attempt may have been
 * appended (`outcomeUnknown`) under a delivery that retries it: giving up would leave the caller
 * unable to learn the outcome, so it is tried again (until the deadline) once members are back.
 */
export function retryable(kind: CallKind, error: unknown, delivery: ProduceDelivery, outcomeUnknown = false): boolean {
  if (error instanceof MembersUnreachableError || error instanceof MembersRemovedError) return kind === "write" && outcomeUnknown && delivery !== "at-most-once";
  if (kind === "read" || delivery !== "at-most-once") return transient(error);
  return refusedBeforeAppend(error);
}

/** Capped exponential backoff with full jitter: attempt n waits a random time below min(max, initial * 2^n). */
export class Backoff {
  constructor(
    private readonly initialMs: number,
    private readonly maxMs: number,
    private readonly random: () => number = Math.random,
  ) {
    integerOption("backoffInitialMs", initialMs, 1, TIMER_MS_MAX);
    integerOption("backoffMaxMs", maxMs, initialMs, TIMER_MS_MAX);
  }

  /** How long to wait before attempt `attempt + 1` (attempt 0 is the first failure). */
  delayMs(attempt: number): number {
    const ceiling = Math.min(this.maxMs, this.initialMs * 2 ** Math.min(attempt, 30));
    return Math.floor(this.random() * ceiling);
  }
}
