// Typed operating errors of the Raft transport. They extend the catalogue's LoghouseError so that they
// carry a stable `code` and one RPC status code like every other Loghouse error. They live here rather
// than in src/errors.ts only because that file has another owner; they belong in the catalogue.
import { LoghouseError, RpcCode } from "../errors.ts";

/** Why a buffer or a connection's byte stream was refused. Stable: tests and logs match on it. */
export type CodecErrorReason =
  | "truncated"
  | "trailing-bytes"
  | "unknown-message-type"
  | "unknown-entry-type"
  | "unknown-flags"
  | "bad-run"
  | "unsafe-integer"
  | "frame-too-large"
  | "bad-connection-marker"
  | "unsupported-version"
  | "bad-sender"
  /** A sender whose name this node does not know yet (a node joining learns its peers' names when admitted). */
  | "unknown-sender"
  | "bad-range"
  | "bad-forward"
  /** Well formed, but no correct peer sends it (message-check.ts). */
  | "out-of-protocol";

/**
 * Bytes that are not a valid encoding: a truncated or corrupt message, an oversized frame, or a
 * connection that does not speak the Raft transport protocol. Expected from untrusted input; the
 * transport answers it by closing the one connection concerned.
 */
export class CodecError extends LoghouseError {
  readonly code = "MALFORMED_RAFT_MESSAGE";
  readonly rpcCode = RpcCode.invalidArgument;

  constructor(
    readonly reason: CodecErrorReason,
    message: string,
  ) {
    super(`${reason}: ${message}`);
  }
}

/** An outbound connection to a peer failed, timed out or was lost. Messages queued for it were dropped. */
export class PeerUnavailableError extends LoghouseError {
  readonly code = "PEER_UNAVAILABLE";
  readonly rpcCode = RpcCode.unavailable;

  constructor(
    readonly peerId: number,
    readonly address: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`peer ${peerId} at ${address}: ${message}`, options);
  }
}
