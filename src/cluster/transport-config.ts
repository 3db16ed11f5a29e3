// Options of the Raft transport, with every limit validated in one place when the transport starts.
import { InvalidConfigError } from "../errors.ts";
import { requireInteger, rejectUnknownKeys } from "../config-checks.ts";
import type { Message } from "../raft/index.ts";
import { MESSAGE_HEADER_BYTES } from "./message-codec.ts";
import type { ForwardMessage, RepairMessage } from "./peer-message.ts";

export interface RaftTransportOptions {
  /** This node's id: sent in the hello of every outbound connection; inbound messages must be addressed to it. */
  readonly nodeId: number;
  /**
   * Receives every inbound message addressed to this node, synchronously, in order per connection.
   * Entry data are views into the socket's receive buffers (no copy), which they keep alive: copy them
   * if they are to be held for long. May throw a CodecError to refuse a message out of protocol
   * (its connection is closed); any other throw is a programmer error and crashes.
   */
  readonly onMessage: (message: Message) => void;
  /**
   * Receives every inbound repair message addressed to this node, like `onMessage` (frames are views
   * into receive buffers). Without it, repair messages are dropped and counted as misaddressed.
   */
  readonly onRepairMessage?: (message: RepairMessage) => void;
  /** Receives every inbound forward message addressed to this node, like `onRepairMessage`. */
  readonly onForwardMessage?: (message: ForwardMessage) => void;
  /** Told about operating errors (peer unreachable, malformed input) for logging. Must not throw. */
  readonly onError?: (error: Error) => void;
  /** Largest encoded message accepted or sent, in bytes. Default 64 MiB. */
  readonly frameBytesMax?: number;
  /**
   * Per-peer bound on bytes waiting to be sent (queued plus buffered in the socket). A message that
   * would exceed it is dropped and counted. At least `frameBytesMax`. Default 64 MiB.
   */
  readonly queueBytesMax?: number;
  /** Delay before redialling a peer after a failed or lost connection: doubles from `min` up to `max`. */
  readonly reconnectDelayMs?: { readonly min: number; readonly max: number };
  /** An outbound connection not established within this time counts as failed. Default 5 s. */
  readonly connectTimeoutMs?: number;
}

export interface RaftTransportConfig {
  readonly nodeId: number;
  readonly onMessage: (message: Message) => void;
  readonly onRepairMessage: ((message: RepairMessage) => void) | undefined;
  readonly onForwardMessage: ((message: ForwardMessage) => void) | undefined;
  readonly onError: (error: Error) => void;
  readonly frameBytesMax: number;
  readonly queueBytesMax: number;
  readonly reconnectDelayMs: { readonly min: number; readonly max: number };
  readonly connectTimeoutMs: number;
}

const MIB = 1024 * 1024;
/** A frame can hold at least a message without entries or snapshot. */
const FRAME_BYTES_MIN = MESSAGE_HEADER_BYTES;
/** Frame lengths are u32 on the wire; Buffers stay below 2^31 on every platform Node supports. */
const FRAME_BYTES_HARD_MAX = 2 ** 31 - 1;

const defaults = {
  frameBytesMax: 64 * MIB,
  queueBytesMax: 64 * MIB,
  reconnectDelayMs: { min: 50, max: 2000 },
  connectTimeoutMs: 5000,
};
const knownFields = new Set(["nodeId", "onMessage", "onRepairMessage", "onForwardMessage", "onError", ...Object.keys(defaults)]);


/** Fills defaults and validates every field; throws InvalidConfigError naming the first bad one. */
export function resolveTransportConfig(options: RaftTransportOptions): RaftTransportConfig {
  rejectUnknownKeys(options, knownFields, "transport option");
  requireInteger("nodeId", options.nodeId, 1, Number.MAX_SAFE_INTEGER);
  if (typeof options.onMessage !== "function") throw new InvalidConfigError("onMessage must be a function");
  if (options.onRepairMessage !== undefined && typeof options.onRepairMessage !== "function") {
    throw new InvalidConfigError("onRepairMessage must be a function");
  }
  if (options.onForwardMessage !== undefined && typeof options.onForwardMessage !== "function") {
    throw new InvalidConfigError("onForwardMessage must be a function");
  }
  if (options.onError !== undefined && typeof options.onError !== "function") {
    throw new InvalidConfigError("onError must be a function");
  }
  const frameBytesMax = options.frameBytesMax ?? defaults.frameBytesMax;
  requireInteger("frameBytesMax", frameBytesMax, FRAME_BYTES_MIN, FRAME_BYTES_HARD_MAX);
  const queueBytesMax = options.queueBytesMax ?? Math.max(defaults.queueBytesMax, frameBytesMax);
  requireInteger("queueBytesMax", queueBytesMax, frameBytesMax, 2 ** 40);
  const reconnectDelayMs = options.reconnectDelayMs ?? defaults.reconnectDelayMs;
  requireInteger("reconnectDelayMs.min", reconnectDelayMs?.min, 1, 60_000);
  requireInteger("reconnectDelayMs.max", reconnectDelayMs.max, reconnectDelayMs.min, 600_000);
  const connectTimeoutMs = options.connectTimeoutMs ?? defaults.connectTimeoutMs;
  requireInteger("connectTimeoutMs", connectTimeoutMs, 1, 600_000);
  return {
    nodeId: options.nodeId,
    onMessage: options.onMessage,
    onRepairMessage: options.onRepairMessage,
    onForwardMessage: options.onForwardMessage,
    onError: options.onError ?? (() => {}),
    frameBytesMax,
    queueBytesMax,
    reconnectDelayMs: { min: reconnectDelayMs.min, max: reconnectDelayMs.max },
    connectTimeoutMs,
  };
}
