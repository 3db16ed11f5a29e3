// The one catalogue of Loghouse's expected, handled failures. Each class has a stable `code` for
// programs and exactly one gRPC status code (`rpcCode`), which every RPC layer uses unchanged.
// Broken invariants are not here: they are assertion failures and crash the process.

/** gRPC status codes (the only codes Loghouse ever sends; never HTTP codes such as 404). */
export const RpcCode = {
  cancelled: 1,
  unknown: 2,
  invalidArgument: 3,
  deadlineExceeded: 4,
  notFound: 5,
  alreadyExists: 6,
  permissionDenied: 7,
  resourceExhausted: 8,
  failedPrecondition: 9,
  aborted: 10,
  outOfRange: 11,
  unimplemented: 12,
  internal: 13,
  unavailable: 14,
  dataLoss: 15,
  unauthenticated: 16,
} as const;
export type RpcCode = (typeof RpcCode)[keyof typeof RpcCode];

export abstract class LoghouseError extends Error {
  abstract readonly code: string;
  abstract readonly rpcCode: RpcCode;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** An offset below the lowest retained record or at or beyond the next offset to be written. */
export class OffsetOutOfRangeError extends LoghouseError {
  readonly code = "OFFSET_OUT_OF_RANGE";
  readonly rpcCode = RpcCode.outOfRange;

  constructor(readonly offset: bigint) {
    super(`offset out of range: ${offset}`);
  }
}

/** Stored bytes failed their checksum or disagree with the index: the data is not returned. */
export class DataLossError extends LoghouseError {
  readonly code = "DATA_LOSS";
  readonly rpcCode = RpcCode.dataLoss;
}

/** The log (or the server around it) is closed or closing. */
export class LogClosedError extends LoghouseError {
  readonly code = "LOG_CLOSED";
  readonly rpcCode = RpcCode.unavailable;

  constructor(message = "log is closed") {
    super(message);
  }
}

/** Another process holds the data directory. */
export class LogLockedError extends LoghouseError {
  readonly code = "LOG_LOCKED";
  readonly rpcCode = RpcCode.failedPrecondition;
}

/** A configuration value is missing, of the wrong type, or outside its allowed range. */
export class InvalidConfigError extends LoghouseError {
  readonly code = "INVALID_CONFIG";
  readonly rpcCode = RpcCode.invalidArgument;
}

/** A command line that cannot run as given (unknown command or option, a malformed flag value); the CLI exits 2. */
export class UsageError extends LoghouseError {
  readonly code = "USAGE";
  readonly rpcCode = RpcCode.invalidArgument;
}

/** A request argument is malformed (wrong type, negative, not an integer, empty batch). */
export class InvalidArgumentError extends LoghouseError {
  readonly code = "INVALID_ARGUMENT";
  readonly rpcCode = RpcCode.invalidArgument;
}

/** One record's value exceeds the configured maximum record size. */
export class RecordTooLargeError extends LoghouseError {
  readonly code = "RECORD_TOO_LARGE";
  readonly rpcCode = RpcCode.resourceExhausted;
}

/** A batch exceeds the configured maximum batch size (records or bytes). */
export class BatchTooLargeError extends LoghouseError {
  readonly code = "BATCH_TOO_LARGE";
  readonly rpcCode = RpcCode.resourceExhausted;
}

/** A follower has as many appends in flight to its leader (or a leader from one follower) as it may. */
export class ForwardsInFlightError extends LoghouseError {
  readonly code = "FORWARDS_IN_FLIGHT";
  readonly rpcCode = RpcCode.resourceExhausted;
}

/** The disk refused an operation (full, I/O error). After a failed write or fsync the log must be reopened. */
export class StorageIoError extends LoghouseError {
  readonly code = "STORAGE_IO";
  readonly rpcCode = RpcCode.unavailable;

  constructor(
    message: string,
    readonly errno: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * The disk is full (ENOSPC) or the quota spent (EDQUOT): the write was undone, nothing acknowledged
 * is lost, and the log takes writes again by itself once space is free.
 */
export class StorageFullError extends LoghouseError {
  readonly code = "STORAGE_FULL";
  readonly rpcCode = RpcCode.resourceExhausted;

  constructor(
    message: string,
    readonly errno: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * This node cannot take the write because it is not the leader; the leader's id (0 if unknown) says
 * where to go, and its address (host:port) when the node knows it, for clients that route themselves.
 */
export class NotLeaderError extends LoghouseError {
  readonly code = "NOT_LEADER";
  readonly rpcCode = RpcCode.unavailable;

  constructor(
    message: string,
    readonly leaderId: number,
    readonly leaderAddress?: string,
  ) {
    super(message);
  }
}

/** The cluster cannot take the request now (no quorum, too much uncommitted, leadership changed); retrying may succeed. */
export class ClusterUnavailableError extends LoghouseError {
  readonly code = "CLUSTER_UNAVAILABLE";
  readonly rpcCode = RpcCode.unavailable;
}

/**
 * The leader refused a proposal for now; `reason` is the Raft core's ProposeRejection (a membership
 * change pending, a learner not caught up, too much uncommitted, ...). Retrying later may succeed.
 */
export class ProposalRefusedError extends ClusterUnavailableError {
  constructor(
    message: string,
    readonly reason: string,
    /** What the reason does not say (which change, which target), for a person. */
    readonly detail: string,
  ) {
    super(message);
  }
}

/**
 * An idempotent producer's batch number is at or below the oldest one the leader forgot for that
 * producer (its window is bounded): the batch may have been appended already, so it is not appended
 * again, and its offsets are no longer known.
 */
export class SequenceTooOldError extends LoghouseError {
  readonly code = "SEQUENCE_TOO_OLD";
  readonly rpcCode = RpcCode.failedPrecondition;
}

/**
 * An idempotent producer's batch whose producer id and number the log holds already, with other
 * records: another client used the id, or this one reused the number. Nothing is appended, and the
 * records held are not the caller's, so no offsets are answered.
 */
export class SequenceReusedError extends LoghouseError {
  readonly code = "SEQUENCE_REUSED";
  readonly rpcCode = RpcCode.failedPrecondition;
}

/** This node was removed from its cluster: it serves nothing of the cluster's log any more (ask a member). */
export class NodeRemovedError extends LoghouseError {
  readonly code = "NODE_REMOVED";
  readonly rpcCode = RpcCode.failedPrecondition;
}

/** A cluster operation (removing a member, handing over leadership) asked of a node that runs alone. */
export class NotClusteredError extends LoghouseError {
  readonly code = "NOT_CLUSTERED";
  readonly rpcCode = RpcCode.failedPrecondition;
}

/**
 * The request was meant for another cluster: it names a cluster (or comes from a member of one)
 * other than the one this node belongs to. Two clusters answer at addresses the caller treats as
 * one, most often because a member that lost its data directory was started with --bootstrap
 * instead of --join. Nothing was done.
 */
export class ClusterMismatchError extends LoghouseError {
  readonly code = "CLUSTER_MISMATCH";
  readonly rpcCode = RpcCode.failedPrecondition;
}

/** The caller is known, and the ACL does not allow it the action. */
export class PermissionDeniedError extends LoghouseError {
  readonly code = "PERMISSION_DENIED";
  readonly rpcCode = RpcCode.permissionDenied;
}

/** The caller is not known (no client certificate, no valid token) and the action needs a principal. */
export class UnauthenticatedError extends LoghouseError {
  readonly code = "UNAUTHENTICATED";
  readonly rpcCode = RpcCode.unauthenticated;
}

/**
 * A failure an RPC peer reported (or the transport met) that no class above describes, with the
 * gRPC code it came with. Clients raise the specific class when the server names one.
 */
export class RpcError extends LoghouseError {
  readonly code = "RPC_ERROR";

  constructor(
    message: string,
    readonly rpcCode: RpcCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
