// From an RPC status back to the catalogue's typed errors (src/errors.ts). The server names the
// catalogue class in the `loghouse-error-code` metadata; without it (another server, a transport
// failure) the status becomes an RpcError with its gRPC code.
import type { ServiceError } from "@grpc/grpc-js";
import {
  BatchTooLargeError,
  ClusterMismatchError,
  ClusterUnavailableError,
  DataLossError,
  InvalidArgumentError,
  InvalidConfigError,
  LogClosedError,
  LoghouseError,
  LogLockedError,
  NodeRemovedError,
  NotClusteredError,
  NotLeaderError,
  OffsetOutOfRangeError,
  PermissionDeniedError,
  RecordTooLargeError,
  RpcError,
  SequenceReusedError,
  SequenceTooOldError,
  StorageFullError,
  StorageIoError,
  UnauthenticatedError,
  type RpcCode,
} from "../errors.ts";

const ERROR_CODE_KEY = "loghouse-error-code";

type Rebuild = (message: string) => LoghouseError;

const byCode: Record<string, Rebuild> = {
  OFFSET_OUT_OF_RANGE: (message) => {
    const match = /offset out of range: (\d+)/.exec(message);
    return match === null ? new RpcError(message, 11) : new OffsetOutOfRangeError(BigInt(match[1]!));
  },
  DATA_LOSS: (message) => new DataLossError(message),
  LOG_CLOSED: (message) => new LogClosedError(message),
  LOG_LOCKED: (message) => new LogLockedError(message),
  INVALID_CONFIG: (message) => new InvalidConfigError(message),
  INVALID_ARGUMENT: (message) => new InvalidArgumentError(message),
  RECORD_TOO_LARGE: (message) => new RecordTooLargeError(message),
  BATCH_TOO_LARGE: (message) => new BatchTooLargeError(message),
  STORAGE_IO: (message) => new StorageIoError(message, 0),
  STORAGE_FULL: (message) => new StorageFullError(message, 0),
  NOT_LEADER: (message) => new NotLeaderError(message, 0),
  CLUSTER_UNAVAILABLE: (message) => new ClusterUnavailableError(message),
  CLUSTER_MISMATCH: (message) => new ClusterMismatchError(message),
  NODE_REMOVED: (message) => new NodeRemovedError(message),
  NOT_CLUSTERED: (message) => new NotClusteredError(message),
  SEQUENCE_TOO_OLD: (message) => new SequenceTooOldError(message),
  SEQUENCE_REUSED: (message) => new SequenceReusedError(message),
  PERMISSION_DENIED: (message) => new PermissionDeniedError(message),
  UNAUTHENTICATED: (message) => new UnauthenticatedError(message),
};

/** The typed error for a failed grpc-js call (anything else is returned as an RpcError of code 2). */
export function errorFromGrpc(error: unknown): LoghouseError {
  if (error instanceof LoghouseError) return error;
  const serviceError = error as Partial<ServiceError>;
  if (typeof serviceError.code !== "number") return new RpcError(String((error as Error)?.message ?? error), 2, { cause: error });
  const message = serviceError.details ?? serviceError.message ?? "";
  const named = serviceError.metadata?.get(ERROR_CODE_KEY)[0];
  const rebuild = typeof named === "string" ? byCode[named] : undefined;
  const typed = rebuild?.(message) ?? new RpcError(message, serviceError.code as RpcCode, { cause: error });
  return typed;
}
