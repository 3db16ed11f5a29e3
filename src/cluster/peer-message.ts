// Everything one node sends another over the Raft transport: the Raft core's messages, and the
// repair messages with which a node that found damaged records in its log fetches them again from
// a peer. Repair is not Raft (the core never sees it); it shares Raft's connections and framing.
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
export type PeerMessage = Message | RepairMessage;

export function isRepairMessage(message: PeerMessage): message is RepairMessage {
  return message.type === "repair-request" || message.type === "repair-response";
}
