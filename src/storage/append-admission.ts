// Admission of appends and exclusive sequencing for one log. An append is admitted once it holds its
// bytes of the outstanding budget (backpressure) and no exclusive operation runs; an exclusive
// operation (truncation, reset, retention, range repair, the cut after a full disk) starts once every
// queued commit has landed and holds new appends back until it ends. This is the one rule that
// orders appends against rewrites of the tail or of a segment, so it lives in one place, apart from
// what the log writes.
import { StorageFullError } from "../errors.ts";
import type { GroupCommit } from "./group-commit.ts";

/** What admission asks of its log. */
export interface AdmissionGate {
  /** Whether the log is open: a closing log admits nothing at once (the caller waits and is refused). */
  isOpen(): boolean;
  /** Throws the typed error that refuses appends now: the log closed, failed, or its disk full. */
  checkWritable(): void;
  /** Throws unless the log is open and has not failed. */
  checkNotFailed(): void;
  /** A write failed (here: queuing a batch found the disk full). */
  writeFailed(error: unknown): void;
  /** A sync the log started by itself, which an exclusive operation waits for besides the commits. */
  pendingSync(): Promise<void>;
}

export class AppendAdmission {
  private exclusive: Promise<unknown> | null = null;

  constructor(
    private readonly commits: Pick<GroupCommit, "acquire" | "release" | "drain">,
    private readonly gate: AdmissionGate,
  ) {}

  /** Whether an exclusive operation runs now. */
  get busy(): boolean {
    return this.exclusive !== null;
  }

  /** Resolves once no exclusive operation runs (one may start again before the caller resumes). */
  async idle(): Promise<void> {
    while (this.exclusive !== null) await this.exclusive.catch(() => undefined);
  }

  /**
   * Runs `enqueue` once no exclusive operation runs and `bytes` of the outstanding budget are held:
   * at once when possible, so an append called before close() is queued before close() drains.
   * `enqueue` runs synchronously after the checks; if it throws, the bytes are given back.
   */
  admit<T>(bytes: number, enqueue: () => Promise<T>): Promise<T> {
    const run = (): Promise<T> => {
      try {
        this.gate.checkWritable();
        return enqueue();
      } catch (error) {
        this.commits.release(bytes);
        // Creating a segment for the batch found the disk full (the batch reserved nothing): appends stop.
        if (error instanceof StorageFullError) this.gate.writeFailed(error);
        return Promise.reject(error);
      }
    };
    if (this.exclusive === null && this.gate.isOpen()) {
      const granted = this.commits.acquire(bytes);
      if (granted === undefined) return run();
      return granted.then(() => (this.exclusive === null ? run() : this.retry(bytes, enqueue)));
    }
    return this.retry(bytes, enqueue, false);
  }

  private async retry<T>(bytes: number, enqueue: () => Promise<T>, holding = true): Promise<T> {
    if (holding) this.commits.release(bytes);
    await this.idle();
    this.gate.checkWritable();
    return this.admit(bytes, enqueue);
  }

  /** Runs `operation` with no append written meanwhile; also while the disk is full, and when not `checked` after a failure. */
  async runExclusive(operation: () => Promise<void>, checked = true): Promise<void> {
    await this.idle();
    if (checked) this.gate.checkNotFailed();
    const run = this.commits
      .drain()
      .then(() => this.gate.pendingSync())
      .then(operation);
    this.exclusive = run;
    try {
      await run;
    } finally {
      this.exclusive = null;
    }
  }
}
