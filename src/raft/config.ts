import type { RandomSource } from "./random.ts";
import type { Storage } from "./storage.ts";

/** Everything a Raft node needs at construction. All limits are validated by `validateConfig`. */
export interface RaftConfig {
  /** This node's id, a positive safe integer. */
  readonly id: number;
  /** The durable state the node starts from (hard state, entries, snapshot point and membership). */
  readonly storage: Storage;
  /** The only source of randomness the core uses (randomized election timeouts). */
  readonly random: RandomSource;
  /** Ticks without hearing from a leader before a follower campaigns; the timeout is drawn from [n, 2n). */
  readonly electionTimeoutTicks: number;
  /** Ticks between a leader's heartbeats; must be smaller than `electionTimeoutTicks`. */
  readonly heartbeatIntervalTicks: number;
  /** Run a pre-vote round before disrupting the cluster with a new term (thesis §9.6). */
  readonly preVote: boolean;
  /** A leader steps down when it has not heard from a quorum for one election timeout (thesis §6.2). */
  readonly checkQuorum: boolean;
  /** Upper bound on the entry bytes in one append message (at least one entry is always sent). */
  readonly messageBytesMax: number;
  /** Upper bound on append messages in flight to one follower in replicate state. */
  readonly inflightMessagesMax: number;
  /** Upper bound on entry bytes in flight to one follower in replicate state. */
  readonly inflightBytesMax: number;
  /** Upper bound on entry bytes handed to the application in one Ready (at least one is always handed). */
  readonly applyBytesMax: number;
  /** Upper bound on entries one proposal may carry. */
  readonly proposalEntriesMax: number;
  /** A leader refuses proposals that would leave more than this many entries uncommitted (backpressure). */
  readonly uncommittedEntriesMax: number;
  /**
   * A learner counts as caught up, and may be promoted, once it has acknowledged the leader's log up
   * to at most this many entries from its end (and answered recently). 0 asks for every entry, which
   * a learner under continuous writes may never show at the moment of asking; a small lag is enough
   * (thesis §4.2.1: "caught up" means close enough to join without stalling commitment).
   */
  readonly learnerPromotionLagMax: number;
}

/** Sensible defaults for everything but id, storage and random. */
export const defaultRaftLimits = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  preVote: true,
  checkQuorum: true,
  messageBytesMax: 1 << 20,
  inflightMessagesMax: 256,
  inflightBytesMax: 32 << 20,
  applyBytesMax: 64 << 20,
  proposalEntriesMax: 10_000,
  uncommittedEntriesMax: 100_000,
  learnerPromotionLagMax: 0,
} as const;

/**
 * Checks every limit in one place and throws an `Error` with a precise message for the first bad one.
 * A configuration is an operator input, so this is an operating error, not an assertion.
 */
export function validateConfig(config: RaftConfig): void {
  requirePositive("id", config.id);
  requirePositive("electionTimeoutTicks", config.electionTimeoutTicks);
  requirePositive("heartbeatIntervalTicks", config.heartbeatIntervalTicks);
  if (config.heartbeatIntervalTicks >= config.electionTimeoutTicks) {
    throw new Error(
      `heartbeatIntervalTicks (${config.heartbeatIntervalTicks}) must be below electionTimeoutTicks (${config.electionTimeoutTicks})`,
    );
  }
  requirePositive("messageBytesMax", config.messageBytesMax);
  requirePositive("inflightMessagesMax", config.inflightMessagesMax);
  requirePositive("inflightBytesMax", config.inflightBytesMax);
  requirePositive("applyBytesMax", config.applyBytesMax);
  requirePositive("proposalEntriesMax", config.proposalEntriesMax);
  requirePositive("uncommittedEntriesMax", config.uncommittedEntriesMax);
  if (!Number.isSafeInteger(config.learnerPromotionLagMax) || config.learnerPromotionLagMax < 0) {
    throw new Error(`learnerPromotionLagMax must be a non-negative integer, got ${config.learnerPromotionLagMax}`);
  }
  if (config.uncommittedEntriesMax < config.proposalEntriesMax) {
    throw new Error(
      `uncommittedEntriesMax (${config.uncommittedEntriesMax}) must be at least proposalEntriesMax (${config.proposalEntriesMax})`,
    );
  }
  if (config.inflightBytesMax < config.messageBytesMax) {
    throw new Error(
      `inflightBytesMax (${config.inflightBytesMax}) must be at least messageBytesMax (${config.messageBytesMax})`,
    );
  }
}

function requirePositive(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new Error(`${name} must be a positive safe integer, got ${value}`);
  }
}
