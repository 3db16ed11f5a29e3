// The timing and limits of the SWIM core, validated in one place. Defaults follow hashicorp/memberlist's
// LAN profile (probe every second, suspicion multiplier 4, up to 6x longer without confirmations,
// retransmit multiplier 4, gossip to 3 members every 200 ms, push-pull every 30 s).
import { InvalidConfigError } from "../errors.ts";
import { SEAL_OVERHEAD_BYTES } from "./gossip-seal.ts";

/** A datagram this size passes a 1,500-byte Ethernet MTU with room for IP, UDP and tunnel headers. */
export const DATAGRAM_BYTES_MAX = 1400;

export interface GossipConfig {
  /** Time between probes of one member each (scaled up by local health awareness). */
  readonly probeIntervalMs: number;
  /** How long a direct ping waits for its ack before asking helpers (scaled like the interval). */
  readonly probeTimeoutMs: number;
  /** Helpers asked to ping a member that missed its direct ping (SWIM's k). */
  readonly indirectChecks: number;
  /** Suspicion lasts suspicionMultiplier x max(1, log10(n)) x probeIntervalMs at least... */
  readonly suspicionMultiplier: number;
  /** ...and this many times that at most, shrinking as independent confirmations arrive (Lifeguard). */
  readonly suspicionMaxTimeoutMultiplier: number;
  /** Confirmations after which the suspicion timeout has shrunk to its minimum (Lifeguard's K). */
  readonly suspicionConfirmationsExpected: number;
  /** An update is sent retransmitMultiplier x ceil(log10(n + 1)) times (SWIM's λ log n). */
  readonly retransmitMultiplier: number;
  /** Updates not piggybacked yet go out on their own this often... */
  readonly gossipIntervalMs: number;
  /** ...to this many random members (recently dead ones included, so they learn they were declared dead). */
  readonly gossipFanout: number;
  /** How long a dead member still receives gossip and how long it is eligible for gossip rounds. */
  readonly gossipToTheDeadMs: number;
  /** A full state exchange with one random alive member this often. */
  readonly pushPullIntervalMs: number;
  /** A full state exchange with one random dead member this often, so a healed partition merges (Serf's reconnect). */
  readonly reconnectIntervalMs: number;
  /** Dead and left members are forgotten this long after they were declared so. */
  readonly deadMemberRetainMs: number;
  /** Local health awareness: timeouts stretch up to this many times while this node itself is slow (Lifeguard). */
  readonly awarenessMax: number;
  /** The largest datagram payload the core produces and accepts. */
  readonly messageBytesMax: number;
  /** The members this node tracks; a new one beyond that is dropped (dead ones are forgotten first). */
  readonly membersMax: number;
  /** Updates waiting to be disseminated; the most sent are dropped beyond that. */
  readonly broadcastsMax: number;
  /** Outstanding indirect probes this node runs for others. */
  readonly relaysMax: number;
}

export const defaultGossipConfig: GossipConfig = {
  probeIntervalMs: 1000,
  probeTimeoutMs: 500,
  indirectChecks: 3,
  suspicionMultiplier: 4,
  suspicionMaxTimeoutMultiplier: 6,
  suspicionConfirmationsExpected: 3,
  retransmitMultiplier: 4,
  gossipIntervalMs: 200,
  gossipFanout: 3,
  gossipToTheDeadMs: 30_000,
  pushPullIntervalMs: 30_000,
  reconnectIntervalMs: 10_000,
  deadMemberRetainMs: 24 * 3600_000,
  awarenessMax: 8,
  messageBytesMax: DATAGRAM_BYTES_MAX - SEAL_OVERHEAD_BYTES,
  membersMax: 4096,
  broadcastsMax: 8192,
  relaysMax: 1024,
};

/**
 * Timings for members on one host or a fast local network (memberlist's DefaultLocalConfig in spirit):
 * a probe every 200 ms and suspicion of 0.4 to 2.4 s at 5 members, so a failure shows within seconds.
 */
export const localGossipConfig: GossipConfig = {
  ...defaultGossipConfig,
  probeIntervalMs: 200,
  probeTimeoutMs: 80,
  gossipIntervalMs: 50,
  suspicionMultiplier: 2,
  pushPullIntervalMs: 5_000,
  reconnectIntervalMs: 2_000,
};

/** A message must hold a full-size alive update and sync record with room to spare. */
export const MESSAGE_BYTES_MIN = 512;

/** The problems with `config`, one precise sentence each; empty when it is valid. */
export function gossipConfigProblems(config: GossipConfig): string[] {
  const problems: string[] = [];
  for (const [name, value] of Object.entries(config)) {
    const zeroAllowed = name === "awarenessMax";
    if (!Number.isSafeInteger(value) || value < (zeroAllowed ? 0 : 1)) {
      problems.push(`${name} must be an integer of at least ${zeroAllowed ? 0 : 1}, got ${value}`);
    }
  }
  if (config.probeTimeoutMs >= config.probeIntervalMs) {
    problems.push(`probeTimeoutMs (${config.probeTimeoutMs}) must be below probeIntervalMs (${config.probeIntervalMs})`);
  }
  if (config.messageBytesMax < MESSAGE_BYTES_MIN) problems.push(`messageBytesMax must be at least ${MESSAGE_BYTES_MIN}, got ${config.messageBytesMax}`);
  if (config.messageBytesMax > 65_000) problems.push(`messageBytesMax must fit a UDP datagram, got ${config.messageBytesMax}`);
  return problems;
}

/** Throws an InvalidConfigError listing every problem of `config`. */
export function validateGossipConfig(config: GossipConfig): GossipConfig {
  const problems = gossipConfigProblems(config);
  if (problems.length > 0) throw new InvalidConfigError(`invalid gossip config: ${problems.join("; ")}`);
  return config;
}
