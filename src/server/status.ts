// The one mapping from a failure to an RPC status. Catalogue errors (src/errors.ts) carry their own
// gRPC code; the RPC layer uses it unchanged and adds the catalogue's stable `code` as metadata
// (`loghouse-error-code`), so a client can rebuild the same typed error. Anything else is a bug on
// this side and is reported as INTERNAL without its details.
import { Code, ConnectError } from "@connectrpc/connect";
import { LoghouseError } from "../errors.ts";

/** Metadata key (header or trailer) carrying LoghouseError.code. */
export const ERROR_CODE_KEY = "loghouse-error-code";

export function toConnectError(error: unknown): ConnectError {
  if (error instanceof ConnectError) return error;
  if (error instanceof LoghouseError) {
    return new ConnectError(error.message, error.rpcCode as number as Code, { [ERROR_CODE_KEY]: error.code }, undefined, error);
  }
  return new ConnectError("internal error", Code.Internal, undefined, undefined, error);
}

/** Whether a failure is unexpected (a bug or an environment problem worth an error log line). */
export function isUnexpected(error: ConnectError): boolean {
  return error.code === Code.Internal || error.code === Code.Unknown || error.code === Code.DataLoss;
}

/** The reason given to streams and waits when the server shuts down. */
export function shuttingDown(): ConnectError {
  return new ConnectError("server is shutting down", Code.Unavailable);
}
