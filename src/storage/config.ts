// Configuration of one log, with every limit validated in one place when the log opens.
import { InvalidConfigError } from "../errors.ts";
import { requireInteger, rejectUnknownKeys } from "../config-checks.ts";
import { FULL_HEADER_BYTES } from "./frame.ts";

/**
 * When an append resolves:
 * - "fsync": after the records are written and fdatasynced (survives power loss). The default.
 * - "interval": after the write reaches the OS (survives a process crash); fdatasync every syncIntervalMs.
 * - "none": after the write reaches the OS; fdatasync only when a segment is sealed or the log closes.
 */
export type DurabilityPolicy = "fsync" | "interval" | "none";

export interface LogConfig {
  /** A segment's store file rotates before it would exceed this many bytes. */
  readonly storeBytesMax: number;
  /** A segment holds at most this many records (its index size). */
  readonly indexEntriesMax: number;
  /** Largest record value accepted. */
  readonly recordBytesMax: number;
  /** Largest batch accepted by one append, in stored bytes (values plus frame headers). */
  readonly batchBytesMax: number;
  /** Appends wait (backpressure) while this many frame bytes are queued or being written. */
  readonly pendingBytesMax: number;
  /** Offset of the first record of a new, empty log. */
  readonly initialOffset: number;
  readonly durability: DurabilityPolicy;
  readonly syncIntervalMs: number;
  /**
   * Retention, applied to whole sealed segments (0: keep everything): the oldest go once the log's
   * stored bytes exceed retentionBytes, or once every record in them is older than retentionMs.
   */
  readonly retentionBytes: number;
  readonly retentionMs: number;
  /**
   * The background scrubber re-reads every record at most this many stored bytes a second, a pass
   * every scrubIntervalMs, and reports damage it finds (0: no background scrub; Log.scrub still runs).
   */
  readonly scrubBytesPerSecond: number;
  readonly scrubIntervalMs: number;
  /** Source of creation timestamps (ms since the epoch); injectable for tests. */
  readonly clock: () => number;
}

const MIB = 1024 * 1024;
/** No record may exceed this whatever the configuration (mirrors kValueBytesHardMax in native/frame.h). */
export const RECORD_BYTES_HARD_MAX = 64 * MIB;
/** The largest indexEntriesMax, and so the most records any segment holds. */
export const INDEX_ENTRIES_HARD_MAX = 2 ** 28;

export const defaultLogConfig: LogConfig = {
  storeBytesMax: 256 * MIB,
  indexEntriesMax: 4 * MIB,
  recordBytesMax: 1 * MIB,
  batchBytesMax: 16 * MIB,
  pendingBytesMax: 64 * MIB,
  initialOffset: 0,
  durability: "fsync",
  syncIntervalMs: 1000,
  retentionBytes: 0,
  retentionMs: 0,
  // A pass an hour at a rate a disk hardly notices: latent damage is found within the hour plus the
  // time to read the log at this rate (about a minute per GiB).
  scrubBytesPerSecond: 16 * 1024 * 1024,
  scrubIntervalMs: 3_600_000,
  clock: Date.now,
};


/** Fills defaults and validates every field; throws InvalidConfigError naming the first bad one. */
export function resolveLogConfig(overrides: Partial<LogConfig> = {}): LogConfig {
  rejectUnknownKeys(overrides, defaultLogConfig, "log config field");
  const config: LogConfig = { ...defaultLogConfig, ...overrides };
  requireInteger("recordBytesMax", config.recordBytesMax, 0, RECORD_BYTES_HARD_MAX);
  const frameBytesMax = FULL_HEADER_BYTES + config.recordBytesMax;
  requireInteger("storeBytesMax", config.storeBytesMax, frameBytesMax, 2 ** 40);
  requireInteger("indexEntriesMax", config.indexEntriesMax, 1, INDEX_ENTRIES_HARD_MAX);
  requireInteger("batchBytesMax", config.batchBytesMax, frameBytesMax, 2 ** 31);
  requireInteger("pendingBytesMax", config.pendingBytesMax, config.batchBytesMax, 2 ** 40);
  requireInteger("initialOffset", config.initialOffset, 0, Number.MAX_SAFE_INTEGER - 2 ** 32);
  requireInteger("syncIntervalMs", config.syncIntervalMs, 1, 3_600_000);
  requireInteger("retentionBytes", config.retentionBytes, 0, 2 ** 50);
  requireInteger("retentionMs", config.retentionMs, 0, Number.MAX_SAFE_INTEGER);
  requireInteger("scrubBytesPerSecond", config.scrubBytesPerSecond, 0, 2 ** 40);
  requireInteger("scrubIntervalMs", config.scrubIntervalMs, 1, 2 ** 31 - 1);
  if (!["fsync", "interval", "none"].includes(config.durability)) {
    throw new InvalidConfigError(`durability must be "fsync", "interval" or "none", got ${String(config.durability)}`);
  }
  if (typeof config.clock !== "function") throw new InvalidConfigError("clock must be a function");
  return config;
}
