// Everything one node sends another over the Raft transport: the Raft core's messages, the
// repair messages with which a node that found damaged records in its log fetches them again from
// a peer, and the forward messages with which a follower hands a produce to the leader
// (append-forwarding.ts). Repair and forwarding are not Raft (the core never sees them); they share
// Raft's connections and framing.
import type { Message } from "../raft/index.ts";

/** Asks a peer for the records at offsets [low, high) of its log (it answers with what it can). */
export interface RepairRequest {
  readonly type: "repair-request";
  readonly from: number;
  readonly to: number;
  readonly low: number;
  readonly high: number;
}

/**
 * Answers a RepairRequest: stored frames (CRC32C and all, exactly as in the peer's log) of
 * consecutive records from offset `low`, the first frame full; empty when the peer has none to give.
 */
export interface RepairResponse {
  readonly type: "repair-response";
  readonly from: number;
  readonly to: number;
  readonly low: number;
  readonly frames: Uint8Array;
}

export type RepairMessage = RepairRequest | RepairResponse;

/**
 * Asks the leader to append `values` as it would its own produce. `id` names the forward among the
 * sender's; `timeoutMs` is what is left of the caller's deadline when sent; `traceparent` is the
 * forward span's W3C context ("" without tracing).
 */
export interface ForwardRequest {
  readonly type: "forward-request";
  readonly from: number;
  readonly to: number;
  readonly id: number;
  readonly timeoutMs: number;
  readonly traceparent: string;
  readonly values: readonly Uint8Array[];
}

/**
 * Answers a ForwardRequest: the first offset of its records (`rpcCode` 0), or the typed error the
 * append failed with: its catalogue `code` and gRPC code, and the leader the answerer knows of when
 * the code is NOT_LEADER (0: none).
 */
export interface ForwardResponse {
  readonly type: "forward-response";
  readonly from: number;
  readonly to: number;
  readonly id: number;
  readonly firstOffset: number;
  readonly rpcCode: number;
  readonly code: string;
  readonly message: string;
  readonly leaderId: number;
}

/** The caller of forward `id` went away (cancelled, or its deadline passed): append it no more if not yet begun. */
export interface ForwardCancel {
  readonly type: "forward-cancel";
  readonly from: number;
  readonly to: number;
  readonly id: number;
}

export type ForwardMessage = ForwardRequest | ForwardResponse | ForwardCancel;
/** The messages that travel beside Raft's. */
export type SideMessage = RepairMessage | ForwardMessage;
export type PeerMessage = Message | SideMessage;

export function isRepairMessage(message: PeerMessage): message is RepairMessage {
  return message.type === "repair-request" || message.type === "repair-response";
}

/** Whether `message` travels beside Raft's (repair or forward) rather than being one of the core's. */
export function isSideMessage(message: PeerMessage): message is SideMessage {
  return isRepairMessage(message) || isForwardMessage(message);
}

export function isForwardMessage(message: PeerMessage): message is ForwardMessage {
  return message.type === "forward-request" || message.type === "forward-response" || message.type === "forward-cancel";
}
