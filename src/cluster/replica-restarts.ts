// The replica a cluster member runs, and its restarts over the same log within the process: Raft
// stops on the member while it repairs damaged records from its peers (cluster-node.ts) or while its
// disk is full, and a new replica starts over the log once that is over, to catch up from the
// leader. Meanwhile the member takes no part in Raft (a leader that stops goes silent, and the others
// elect another once their election timeout passes) and does not serve as a member. A cluster member
// and the simulator's server (src/sim) both run their replicas through this, so that the simulator
// checks these restarts as a member makes them.
import { ClusterUnavailableError, LogClosedError, StorageFullError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { FREE_SPACE_PROBE_EVERY_MS } from "../storage/full-disk.ts";
import type { RecordLog } from "../storage/index.ts";
import { alignWithStartPoint } from "./log-storage.ts";
import type { RaftStateFile } from "./raft-state-file.ts";
import type { Replica } from "./replica.ts";
import { delay, type Timers } from "./timers.ts";

/** A log that says whether a full disk stops its appends: the native log, and the simulator's. */
export interface RestartableLog extends RecordLog {
  /** Whether appends fail because the disk is full, which passes by itself once space is free (unlike any other failure). */
  readonly diskFull: boolean;
  /** Whether the log takes appends. */
  readonly writable: boolean;
}

export interface ReplicaRestartsOptions {
  readonly log: RestartableLog;
  readonly stateFile: RaftStateFile;
  /** Builds a replica over the log and the state file, not yet started. */
  readonly newReplica: () => Replica;
  /** Paces the probes for free space (the simulator's time in the simulator). */
  readonly timers: Timers;
  readonly logger: Logger;
  /** Aborted when the member closes: a pause under way ends there, with no new replica. */
  readonly closing: AbortSignal;
  /** Whether the member was removed from its cluster: no replica starts again. */
  readonly removed: () => boolean;
  /** The member serves as one (true), or not while Raft is stopped (false). */
  readonly setServing: (serving: boolean) => void;
  /** A failure the member cannot ride out: the process stops, and restarts over a reopened log. */
  readonly stopProcess: (error: unknown) => void;
}

export class ReplicaRestarts {
  private current: Replica;
  /** Raft stopped while the log is repaired or the disk is full, and why; a new replica starts when it ends. */
  private pause: { readonly reason: string; readonly done: Promise<void> } | null = null;

  constructor(private readonly options: ReplicaRestartsOptions) {
    this.current = options.newReplica();
  }

  /** The replica now running (or stopped, during a pause). */
  get replica(): Replica {
    return this.current;
  }

  /** Why Raft is stopped on this member now, or undefined. */
  get pausedBecause(): string | undefined {
    return this.pause?.reason;
  }

  /** Resolves once no pause is under way. */
  async idle(): Promise<void> {
    await this.pause?.done;
  }

  /**
   * The replica stopped because a write or sync failed. A full disk met by an append passes: the log
   * has cut its tail back to what it acknowledged and waits for space (full-disk.ts), and once it
   * takes writes again and the state file can be written a new replica starts over it. Any other
   * failure (a full disk met by a rewrite of the log, which the log does not cut back, or one met
   * while Raft is stopped already) stops the process.
   */
  writeFailed(error: unknown): void {
    if (!(error instanceof StorageFullError) || !this.options.log.diskFull || this.pause !== null) return this.options.stopProcess(error);
    this.options.logger.error("this member's disk is full: it takes no part in the cluster until space is free, then rejoins (its peers go on without it)", { error });
    void this.pauseFor("its disk is full: it rejoins once space is free", new ClusterUnavailableError("this member's disk is full; retry (another member leads meanwhile)"), async () => {
      await this.untilSpaceIsFree();
      this.options.logger.info("disk space is free again: this member rejoins the cluster");
      return true;
    });
  }

  /**
   * Stops Raft on this member (not serving meanwhile), runs `restore`, and starts a new replica over
   * the log if it says so; one pause at a time (a second request joins the one under way). What
   * `restore` throws stops the process, unless the member is closing.
   */
  pauseFor(reason: string, stopReason: Error, restore: () => Promise<boolean>): Promise<void> {
    if (this.pause !== null) return this.pause.done;
    const { closing, removed, setServing } = this.options;
    const run = async (): Promise<void> => {
      if (closing.aborted || removed()) return;
      setServing(false);
      await this.current.stop(stopReason);
      let restart: boolean;
      try {
        restart = await restore();
      } catch (error) {
        if (closing.aborted) return;
        throw error;
      }
      if (!restart || closing.aborted || removed()) return;
      // As at open: a start point recorded but not yet applied to the log (or the reverse) is settled first.
      await alignWithStartPoint(this.options.log, this.options.stateFile);
      if (closing.aborted || removed()) return;
      this.current = this.options.newReplica();
      this.current.start();
      setServing(true);
    };
    const done = run()
      .catch((error: unknown) => this.options.stopProcess(error))
      .finally(() => {
        this.pause = null;
      });
    this.pause = { reason, done };
    return done;
  }

  /** Waits until the log takes writes again and the state file can be written (bringing the latest commit index into it); throws what is not a full disk. */
  private async untilSpaceIsFree(): Promise<void> {
    const { log, stateFile } = this.options;
    for (;;) {
      await delay(this.options.timers, FREE_SPACE_PROBE_EVERY_MS, this.options.closing);
      if (log.diskFull) continue;
      // The log failed to cut its tail back, or closed: it is reopened only by a restart.
      if (!log.writable) throw new LogClosedError("the log failed or closed while its disk was full (see the error logged before)");
      try {
        await stateFile.update({});
        return;
      } catch (error) {
        if (!(error instanceof StorageFullError)) throw error;
      }
    }
  }
}
