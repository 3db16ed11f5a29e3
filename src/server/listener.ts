// One TCP port for every protocol. The first bytes of a connection say what it speaks: a TLS
// ClientHello (a handshake record, 0x16; inside it ALPN tells the planes apart), the HTTP/2 client
// preface ("PRI * HTTP/2.0..."), a Raft peer's 0x01 (the Go original's convention), or anything
// else, which is HTTP/1.1. The bytes read to decide are put back, and the socket is handed
// to the server for that protocol.
import type { Socket } from "node:net";
import { ADMIN_MARKER } from "../cluster/admin-protocol.ts";
import { CONNECTION_MARKER } from "../cluster/frame-reader.ts";

/** The first byte of a TLS record of type handshake, which every ClientHello is. */
const TLS_HANDSHAKE = 0x16;
const HTTP2_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

export type ConnectionKind = "tls" | "http2" | "http1" | "raft";

export interface ConnectionRoutes {
  readonly tls: (socket: Socket) => void;
  readonly http2: (socket: Socket) => void;
  readonly http1: (socket: Socket) => void;
  readonly raft: (socket: Socket) => void;
}

/** What the bytes seen so far say, or undefined while they could still be the HTTP/2 preface. */
export function classifyConnection(bytes: Buffer): ConnectionKind | undefined {
  if (bytes.length === 0) return undefined;
  if (bytes[0] === TLS_HANDSHAKE) return "tls";
  // A Raft peer (0x01) or a cluster admin request (0x02, join and leave): both go to the cluster.
  if (bytes[0] === CONNECTION_MARKER || bytes[0] === ADMIN_MARKER) return "raft";
  const compared = Math.min(bytes.length, HTTP2_PREFACE.length);
  if (!bytes.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared))) return "http1";
  return compared === HTTP2_PREFACE.length ? "http2" : undefined;
}

/**
 * Reads until the connection's kind is known (a silent connection is closed after `timeoutMs`),
 * then unreads what it read and routes the socket.
 */
export function routeConnection(socket: Socket, routes: ConnectionRoutes, timeoutMs: number): void {
  let seen: Buffer = Buffer.alloc(0);
  const onTimeout = (): void => {
    socket.destroy();
  };
  const onData = (chunk: Buffer): void => {
    seen = seen.length === 0 ? chunk : Buffer.concat([seen, chunk]);
    const kind = classifyConnection(seen);
    if (kind === undefined) return;
    socket.off("data", onData);
    socket.off("timeout", onTimeout);
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(seen);
    routes[kind](socket);
  };
  // A connection reset before (or after) routing must not take the process down.
  socket.on("error", () => socket.destroy());
  socket.setTimeout(timeoutMs);
  socket.on("timeout", onTimeout);
  socket.on("data", onData);
}

/**
 * Closes `socket` unless its first bytes arrive within `timeoutMs`: for a connection handed on before
 * it sent anything (a peer's, routed by its TLS handshake), as routeConnection does for the others.
 * Call it before the handler adds its own listeners, so that the handler's timeout, if any, stays.
 */
export function closeIfSilent(socket: Socket, timeoutMs: number): void {
  const onTimeout = (): void => {
    socket.destroy();
  };
  socket.setTimeout(timeoutMs);
  socket.once("timeout", onTimeout);
  socket.once("data", () => {
    socket.off("timeout", onTimeout);
    socket.setTimeout(0);
  });
}
