// The one mapping from a failure to an RPC status. Catalogue errors (src/errors.ts) carry their own
// gRPC code; the RPC layer uses it unchanged and adds the catalogue's stable `code` as metadata
// (`loghouse-error-code`), so a client can rebuild the same typed error; a NOT_LEADER answer names
// the leader's address when known (`loghouse-leader-address`). Anything else is a bug on this side
// and is reported as INTERNAL without its details.
import { Code, ConnectError } from "@connectrpc/connect";
import { LogClosedError, LoghouseError, NotLeaderError } from "../errors.ts";

/** Metadata key (header or trailer) carrying LoghouseError.code. */
export const ERROR_CODE_KEY = "loghouse-error-code";
/** Metadata key carrying NotLeaderError.leaderAddress. */
export const LEADER_ADDRESS_KEY = "loghouse-leader-address";

export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof LoghouseError) {
    const metadata: Record<string, string> = { [ERROR_CODE_KEY]: error.code };
    if (error instanceof NotLeaderError && error.leaderAddress !== undefined) metadata[LEADER_ADDRESS_KEY] = error.leaderAddress;
    return new ConnectError(withoutServerPaths(error.message), error.rpcCode as number as Code, metadata, undefined, error);
  }
  // The call's own signal, aborted because the client went away (connect-node aborts it when an
  // HTTP/1.1 request closes early): a cancellation, as over HTTP/2, not an internal failure.
  if (error instanceof Error && error.name === "AbortError") return new ConnectError("the call was cancelled", Code.Canceled, undefined, undefined, error);
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

/** An absolute path of two or more parts: a directory on the server, then a file name. */
const SERVER_PATH = /\/(?:[^\s/]+\/)+([^\s/]+)/g;

/**
 * A message for a client: where the server keeps its files is none of the client's business (and
 * helps an attacker), so an absolute path keeps only its file name ("checksum mismatch in
 * 00000000000000000000.store at offset 9"). The log line keeps the whole error as its cause.
 */
function withoutServerPaths(message: string): string {
  return message.replace(SERVER_PATH, "$1");
}

/** Whether a failure is unexpected (a bug or an environment problem worth an error log line). */
export function isUnexpected(error: ConnectError): boolean {
  return error.code === Code.Internal || error.code === Code.Unknown || error.code === Code.DataLoss;
}

/** The reason given to streams and waits when the server shuts down: LOG_CLOSED, which a client rebuilds as LogClosedError. */
export function shuttingDown(): ConnectError {
  return toConnectError(new LogClosedError("server is shutting down"));
}
