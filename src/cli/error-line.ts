// A failure as the command line reports it: one line, the catalogue's code and a message a person
// can act on. Transport failures from grpc-js carry text meant for its own developers ("Last error:
// ...", "Resolution note: ..."); they are reduced to what went wrong and where.
import { LoghouseError, RpcCode, RpcError } from "../errors.ts";

export function errorLine(error: unknown): string {
  if (error instanceof RpcError && error.rpcCode === RpcCode.unavailable) {
    return `UNAVAILABLE: cannot reach the node${transportCause(error.message)}`;
  }
  if (error instanceof RpcError && error.rpcCode === RpcCode.deadlineExceeded) {
    return "DEADLINE_EXCEEDED: the node did not answer within the deadline (--timeout)";
  }
  if (error instanceof LoghouseError) return `${error.code}: ${oneLine(error.message)}`;
  const system = error as Partial<NodeJS.ErrnoException> & { address?: string; port?: number };
  if (typeof system.code === "string" && typeof system.syscall === "string") {
    // Where: a file, or an address (a port already taken says which; a UDP bind is gossip's port).
    const where = system.path ?? (system.address === undefined ? undefined : `${system.address}${system.port === undefined ? "" : `:${system.port}`}`);
    return `${system.code}: ${system.syscall}${where === undefined ? "" : ` ${where}`} failed${system.syscall === "bind" ? " (the UDP port gossip shares with the node's port)" : ""}`;
  }
  // Anything else is a defect in loghouse itself: say so, with the first line of what happened.
  return `UNEXPECTED: ${oneLine(error instanceof Error ? `${error.name}: ${error.message}` : String(error))}`;
}

/** " (connect ECONNREFUSED 127.0.0.1:1)" out of grpc-js's "No connection established. Last error: Error: connect ECONNREFUSED ... Resolution note: ". */
function transportCause(message: string): string {
  const match = /Last error: (?:\w*Error: )?(.*?)(?:\. Resolution note:.*)?$/s.exec(message);
  const cause = oneLine(match?.[1] ?? message.replace(/\s*Resolution note:.*$/s, "")).replace(/\.$/, "");
  return cause === "" ? "" : ` (${cause})`;
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, "; ").trim();
}
