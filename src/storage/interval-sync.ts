// The sync of the "interval" durability policy: its commits are written but not synced, and a timer
// syncs the active segment every config.syncIntervalMs when something was committed since the last
// sync. It runs on its own timer, beside the appends rather than in their path, so its timer and
// state are here; an exclusive operation waits for a sync the timer started (AdmissionGate.pendingSync)
// before it rewrites the tail, and close waits for it before the last sync.

/** What the interval sync needs of its log. */
export interface IntervalSyncedLog {
  /** Whether a sync may start now: the log is open and no exclusive operation runs. */
  canSync(): boolean;
  /** fdatasyncs the active segment. */
  sync(): Promise<void>;
  /** A sync failed: the log takes no more writes (or, on a full disk, none until space is free). */
  failed(error: unknown): void;
}

export class IntervalSync {
  private readonly timer: NodeJS.Timeout;
  private unsynced = false;
  private syncing: Promise<void> = Promise.resolve();

  /** Starts the timer. */
  constructor(intervalMs: number, private readonly log: IntervalSyncedLog) {
    this.timer = setInterval(() => this.syncOnTimer(), intervalMs).unref();
  }

  /** The sync the timer started last: it settles once that sync is done, failed or not. */
  get pending(): Promise<void> {
    return this.syncing;
  }

  /** Records were committed: the next tick syncs them. */
  committed(): void {
    this.unsynced = true;
  }

  /** Stops the timer (the log closes); a sync under way goes on, see `pending`. */
  stop(): void {
    clearInterval(this.timer);
  }

  private syncOnTimer(): void {
    if (!this.unsynced || !this.log.canSync()) return;
    this.unsynced = false;
    this.syncing = this.log.sync().catch((error: unknown) => this.log.failed(error));
  }
}
