// Node-to-node administration on the node's one port: a connection that starts with 0x02 carries
// one request and one response, each a u32 length (little-endian) and a JSON document. It is how a
// new node asks the cluster to let it in, how a node that
// applied its own removal asks the leader whether it is still a member (it may have been added back
// since), and how a leader tells a removed node that still speaks Raft to ask that question. In a
// cluster with TLS it runs over mutual TLS (ALPN loghouse-peer/1) with the caller's certificate, and
// the node answering authorizes each request by that certificate (cluster-node.ts). A request names
// the asker's cluster when it knows one (`clusterId`), and a node of another cluster refuses it; a
// join answer names the leader's cluster, which the joining node keeps as its own.
import type { Socket } from "node:net";
import { ClusterUnavailableError, InvalidArgumentError, LoghouseError } from "../errors.ts";
import { parseClusterId } from "../wire/cluster-id.ts";
import { parseNodeName } from "./node-name.ts";
import { parsePeerAddress } from "./outbound-peer.ts";
import { dialPeer, type PeerTls } from "./peer-dial.ts";

export const ADMIN_MARKER = 0x02;
const DOCUMENT_BYTES_MAX = 64 * 1024;

export type AdminRequest = (
  /**
   * Node `name` asks to be a member under the Raft id its data directory drew: the leader admits it
   * (admission.ts), replacing an older Raft id bound to the same name.
   */
  | { readonly op: "join"; readonly name: string; readonly nodeId: number; readonly address: string }
  /** Whether `nodeId` is a member now, as the leader has applied it. */
  | { readonly op: "member"; readonly nodeId: number }
  /** From the leader to a node it has removed that still sends Raft messages: ask me whether you are a member. */
  | { readonly op: "removed"; readonly nodeId: number; readonly leaderId: number }
) & {
  /** The asker's cluster, when it knows one. */
  readonly clusterId?: string;
};

export type AdminResponse =
  /**
   * `member` answers a "member" request, with `known`: whether the leader answering has ever known
   * the asker (a node believes a "no" only from a leader of its own cluster); `names` are the
   * members' names by Raft id.
   */
  | {
      readonly ok: true;
      readonly addresses: Readonly<Record<string, string>>;
      readonly names?: Readonly<Record<string, string>>;
      readonly member?: boolean;
      readonly known?: boolean;
      /** The leader's cluster in a join answer, when it knows one. */
      readonly clusterId?: string;
    }
  /** A refusal; `code` is the catalogue's (src/errors.ts) when the refusal is one of its errors. */
  | { readonly ok: false; readonly error: string; readonly leaderAddress?: string; readonly code?: string };

function frame(document: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(document));
  const header = Buffer.alloc(4);
  header.writeUInt32LE(body.length);
  return Buffer.concat([header, body]);
}

/** Reads one length-prefixed JSON document from `socket`, after `already` bytes read before. */
function readDocument(socket: Socket, already: Buffer, timeoutMs: number): Promise<unknown> {
  return new Promise((resolve, reject) => {
    let buffered = already;
    const finish = (error: Error | null, value?: unknown): void => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("error", onError);
      socket.off("close", onClose);
      if (error === null) resolve(value);
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      tryParse();
    };
    const onError = (error: Error): void => finish(error);
    const onClose = (): void => finish(new InvalidArgumentError("admin connection closed before a whole document arrived"));
    const tryParse = (): void => {
      if (buffered.length < 4) return;
      const length = buffered.readUInt32LE(0);
      if (length > DOCUMENT_BYTES_MAX) return finish(new InvalidArgumentError(`admin document of ${length} bytes is too large`));
      if (buffered.length < 4 + length) return;
      try {
        finish(null, JSON.parse(buffered.subarray(4, 4 + length).toString("utf8")));
      } catch (error) {
        finish(new InvalidArgumentError("admin document is not JSON", { cause: error }));
      }
    };
    const timer = setTimeout(() => finish(new InvalidArgumentError(`no admin document within ${timeoutMs} ms`)), timeoutMs);
    socket.on("data", onData);
    socket.on("error", onError);
    socket.on("close", onClose);
    tryParse();
  });
}

function parseRequest(document: unknown): AdminRequest {
  const request = document as Partial<Record<string, unknown>>;
  const nodeId = request?.nodeId;
  if (typeof nodeId !== "number" || !Number.isSafeInteger(nodeId) || nodeId <= 0) throw new InvalidArgumentError("nodeId must be a positive integer");
  const cluster = request.clusterId === undefined ? {} : { clusterId: parseClusterId(request.clusterId, "clusterId") };
  if (request.op === "member") return { op: request.op, nodeId, ...cluster };
  if (request.op === "removed") {
    const leaderId = request.leaderId;
    if (typeof leaderId !== "number" || !Number.isSafeInteger(leaderId) || leaderId <= 0) throw new InvalidArgumentError("leaderId must be a positive integer");
    return { op: "removed", nodeId, leaderId, ...cluster };
  }
  if (request.op === "join" && typeof request.address === "string") {
    parsePeerAddress(request.address);
    return { op: "join", name: parseNodeName(request.name), nodeId, address: request.address, ...cluster };
  }
  throw new InvalidArgumentError("op must be join (with a name and an address), member or removed (with a leaderId)");
}

/**
 * Sends one request to the node at `address` (host:port) and returns its response; a node that
 * cannot be reached or does not answer within `timeoutMs` is a ClusterUnavailableError.
 */
export async function sendAdminRequest(address: string, request: AdminRequest, timeoutMs = 10_000, peerTls?: PeerTls): Promise<AdminResponse> {
  const { socket, readyEvent } = dialPeer(parsePeerAddress(address), peerTls, undefined);
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once(readyEvent, resolve);
      socket.once("error", reject);
    });
    socket.write(Buffer.concat([Buffer.from([ADMIN_MARKER]), frame(request)]));
    return (await readDocument(socket, Buffer.alloc(0), timeoutMs)) as AdminResponse;
  } catch (error) {
    throw new ClusterUnavailableError(`${address} did not answer the ${request.op} request: ${(error as Error).message}`, { cause: error });
  } finally {
    socket.destroy();
  }
}

/**
 * Serves one admin request on a connection whose first bytes (starting with the 0x02 marker) were
 * already read by the port's sniffer. A malformed request gets an error response; nothing throws.
 */
export async function serveAdminConnection(
  socket: Socket,
  firstBytes: Buffer,
  handle: (request: AdminRequest) => Promise<AdminResponse>,
  timeoutMs = 10_000,
): Promise<void> {
  let response: AdminResponse;
  try {
    const request = parseRequest(await readDocument(socket, firstBytes.subarray(1), timeoutMs));
    response = await handle(request);
  } catch (error) {
    response = { ok: false, error: error instanceof Error ? error.message : String(error), ...(error instanceof LoghouseError ? { code: error.code } : {}) };
  }
  if (!socket.destroyed) socket.end(frame(response));
}

/** Sends `request` through any member reachable at `contact`, following redirects to the leader; returns the leader's answer. */
export async function askLeader(contact: string, request: AdminRequest, attemptsMax = 10, timeoutMs = 10_000, peerTls?: PeerTls): Promise<Extract<AdminResponse, { ok: true }>> {
  let target = contact;
  for (let attempt = 0; attempt < attemptsMax; attempt++) {
    const response = await sendAdminRequest(target, request, timeoutMs, peerTls);
    if (response.ok) return response;
    if (response.leaderAddress === undefined) throw new ClusterUnavailableError(`${request.op} refused: ${response.error}`);
    target = response.leaderAddress;
  }
  throw new ClusterUnavailableError(`${request.op} did not reach the leader through ${contact}`);
}
