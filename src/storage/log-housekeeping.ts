// A log's background housekeeping: retention (dropping the oldest whole sealed segments by size or
// age), dropping sealed segments' index pages from memory, and the scheduled scrub. It runs on
// timers of its own and only ever removes whole segments from the front, never touching the tail
// that appends write, so it lives apart from the write and read paths; it takes the log's exclusive
// lock for every removal, so it never picks segments from under a truncation.
import type { Logger } from "../logger.ts";
import type { LogConfig } from "./config.ts";
import type { LogRecord } from "./frame.ts";
import { syncDirectory } from "./group-commit.ts";
import type { DamagedRange, ScrubOptions, ScrubReport } from "./scrub.ts";
import type { Segment } from "./segment.ts";

/** How often a log drops sealed segments' index pages from memory and applies its retention. */
const HOUSEKEEPING_EVERY_MS = 10_000;

/** What housekeeping needs of its log. */
export interface HousekeptLog {
  readonly directory: string;
  readonly config: LogConfig;
  readonly logger: Logger;
  /** The log's own list, oldest first, the last one active: housekeeping removes from its front. */
  readonly segments: Segment[];
  readonly lowestOffset: number;
  /** The end of what readers see. */
  readonly nextOffset: number;
  /** Whether the log is open (background work stops, quietly, once it closes). */
  readonly open: boolean;
  /** Whether the log failed and must be reopened (retention no longer runs). */
  readonly failed: boolean;
  read(offset: number): LogRecord;
  runExclusive(operation: () => Promise<void>): Promise<void>;
  scrub(options: ScrubOptions): Promise<ScrubReport>;
  /** The scheduled scrub found damaged records. */
  damaged(ranges: readonly DamagedRange[]): void;
}

export class LogHousekeeping {
  private readonly housekeepingTimer: NodeJS.Timeout;
  private scrubTimer: NodeJS.Timeout | undefined;
  private readonly scrubAbort = new AbortController();

  /** Starts the timers: housekeeping every HOUSEKEEPING_EVERY_MS, and the scrub if config.scrubBytesPerSecond > 0. */
  constructor(private readonly log: HousekeptLog) {
    this.housekeepingTimer = setInterval(() => this.houseKeep(), HOUSEKEEPING_EVERY_MS).unref();
    if (log.config.scrubBytesPerSecond > 0) this.scheduleScrub();
  }

  /** Stops the timers and aborts a scrub under way with `reason`. */
  stop(reason: Error): void {
    clearInterval(this.housekeepingTimer);
    clearTimeout(this.scrubTimer);
    this.scrubAbort.abort(reason);
  }

  /** Log.enforceRetention, on an open log. */
  async enforceRetention(): Promise<number> {
    const { config, segments } = this.log;
    const { retentionBytes, retentionMs } = config;
    if (retentionBytes === 0 && retentionMs === 0) return this.log.lowestOffset;
    const cutoff = config.clock() - retentionMs;
    let storedBytes = 0;
    for (const segment of segments) storedBytes += segment.files.storeBytes;
    let keep = 0;
    for (; keep < segments.length - 1; keep++) {
      const next = segments[keep + 1]!;
      const overBudget = retentionBytes > 0 && storedBytes > retentionBytes;
      const expired = retentionMs > 0 && next.baseOffset < this.log.nextOffset && this.log.read(next.baseOffset).timestampMs < cutoff;
      if (!overBudget && !expired) break;
      storedBytes -= segments[keep]!.files.storeBytes;
    }
    return keep === 0 ? this.log.lowestOffset : this.dropBefore(segments[keep]!.baseOffset);
  }

  /** Log.dropBefore, on an open log and a checked offset. */
  async dropBefore(offset: number): Promise<number> {
    const { directory, segments } = this.log;
    // Exclusive, like truncateAfter, so that the two never pick segments from under each other.
    await this.log.runExclusive(async () => {
      let count = 0;
      while (count < segments.length - 1 && segments[count + 1]!.baseOffset <= offset) count++;
      for (const segment of segments.splice(0, count)) await segment.remove();
      if (count > 0) await syncDirectory(directory);
    });
    return this.log.lowestOffset;
  }

  /** Drops sealed segments' index pages from memory (reads fault them back in) and applies retention. */
  private houseKeep(): void {
    const { segments } = this.log;
    for (const segment of segments.slice(0, -1)) segment.files.releaseMemory();
    if (!this.log.open || this.log.failed) return;
    this.enforceRetention().catch((error: unknown) => this.log.logger.warn("log retention failed", { directory: this.log.directory, error: (error as Error).message }));
  }

  private scheduleScrub(): void {
    const { config, logger, directory } = this.log;
    this.scrubTimer = setTimeout(() => {
      this.log
        .scrub({ bytesPerSecond: config.scrubBytesPerSecond, signal: this.scrubAbort.signal })
        .then((report) => {
          if (report.damaged.length === 0) return;
          logger.error("log scrub found damaged records", { directory, damaged: report.damaged });
          this.log.damaged(report.damaged);
        })
        .catch((error: unknown) => {
          if (this.log.open) logger.warn("log scrub failed", { directory, error: (error as Error).message });
        })
        .finally(() => {
          if (this.log.open) this.scheduleScrub();
        });
    }, config.scrubIntervalMs).unref();
  }
}
