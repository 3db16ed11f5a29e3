// Group commit: appends queue their encoded frames here; one writer at a time takes everything
// queued, writes it with one native call per segment and one fdatasync, and resolves every append
// the sync covered. Appends that arrive while a sync is in flight share the next one, and are held
// here unframed until it is taken, so that the log frames them together (one encoding and one
// buffer for a stream's many one-record appends, not one each). Appends made in the same turn as
// the one that starts an idle log's write are held the same way and share that first write. The
// bytes queued, held or in flight are bounded: past the bound, appends wait in arrival order.
import assert from "node:assert/strict";
import { open } from "node:fs/promises";
import { noSpaceAsStorageFull } from "./full-disk.ts";
import type { Segment } from "./segment.ts";

/** Work for one segment, in log order. */
export interface WriteStep {
  readonly segment: Segment;
  readonly frames: Buffer[];
  /** fdatasync after writing, whatever the policy (the segment is being sealed). */
  readonly seal: boolean;
  /** fsync the directory first (the segment's files are new). */
  readonly syncDirectory: boolean;
}

/** An append held unframed while a write is under way: the log frames it (GroupCommitOptions.frameHeld) when the next write is taken. */
export interface HeldAppend {
  /** What it holds of the outstanding budget. */
  readonly bytes: number;
  readonly resolve: (firstOffset: number) => void;
  readonly reject: (error: unknown) => void;
}

/** An append framed and queued: its records are [firstOffset, endOffset). */
export interface PendingAppend extends HeldAppend {
  readonly firstOffset: number;
  readonly endOffset: number;
}

export interface GroupCommitOptions<H extends HeldAppend> {
  /** fdatasync every commit (durability "fsync"). */
  readonly syncEachCommit: boolean;
  readonly pendingBytesMax: number;
  /** Called after each commit with the offset after the last record it made visible. */
  readonly onCommitted: (endOffset: number) => void;
  /** Called once when a write or sync fails; no further commit is attempted until resume(). */
  readonly onFailed: (error: unknown) => void;
  /** Called with each buffer of frames once it is written (whether synced yet or not): nothing reads it any more. */
  readonly onWritten: (frames: Buffer) => void;
  /** Called after each write that was synced, with its duration in seconds: the write and fdatasync, and the hand-offs to the worker thread and back. */
  readonly onSynced?: (seconds: number) => void;
  /**
   * Frames the appends held since the last write was taken, in order, and queues each (queue())
   * before the next write is taken; one that cannot be framed it refuses itself (releasing its bytes). It
   * throws nothing: what it throws fails the commit.
   */
  readonly frameHeld: (held: H[]) => void;
}

/** fsyncs a directory so that files created or removed in it stay so after a crash. */
export async function syncDirectory(path: string): Promise<void> {
  const handle = await open(path, "r");
  try {
    await handle.sync();
  } catch (error) {
    throw noSpaceAsStorageFull(error, `fsync directory ${path}`);
  } finally {
    await handle.close();
  }
}

export class GroupCommit<H extends HeldAppend = HeldAppend> {
  private steps: WriteStep[] = [];
  private held: H[] = [];
  private pending: PendingAppend[] = [];
  private running = false;
  private failure: unknown = null;
  private bytesOutstanding = 0;
  private readonly spaceWaiters: Array<{ bytes: number; grant: () => void }> = [];
  private drainWaiters: Array<() => void> = [];

  constructor(private readonly options: GroupCommitOptions<H>) {}

  /** Whether a write is under way or about to start: an append made now is held (hold()) to be framed before the next write. */
  get writing(): boolean {
    return this.running;
  }

  /**
   * Takes `bytes` of the outstanding budget. Returns undefined when granted at once, else a promise
   * that resolves when granted (first come, first served). The caller must then submit or release.
   */
  acquire(bytes: number): Promise<void> | undefined {
    assert.ok(bytes <= this.options.pendingBytesMax, "a batch larger than the whole budget can never be granted");
    if (this.spaceWaiters.length === 0 && this.bytesOutstanding + bytes <= this.options.pendingBytesMax) {
      this.bytesOutstanding += bytes;
      return undefined;
    }
    return new Promise((grant) => this.spaceWaiters.push({ bytes, grant }));
  }

  release(bytes: number): void {
    this.bytesOutstanding -= bytes;
    assert.ok(this.bytesOutstanding >= 0, "released more bytes than acquired");
    while (this.spaceWaiters.length > 0) {
      const next = this.spaceWaiters[0]!;
      if (this.bytesOutstanding + next.bytes > this.options.pendingBytesMax) break;
      this.spaceWaiters.shift();
      this.bytesOutstanding += next.bytes;
      next.grant();
    }
  }

  /** Queues steps whose records are [firstOffset, endOffset); resolves with firstOffset once they are committed. */
  submit(steps: readonly WriteStep[], firstOffset: number, endOffset: number, bytes: number): Promise<number> {
    return new Promise((resolve, reject) => this.queue(steps, { firstOffset, endOffset, bytes, resolve, reject }));
  }

  /** submit() for an append with its own resolve and reject (one held, being framed). */
  queue(steps: readonly WriteStep[], append: PendingAppend): void {
    if (this.failure !== null) {
      this.release(append.bytes);
      append.reject(this.failure);
      return;
    }
    this.pending.push(append);
    for (const step of steps) this.steps.push(step);
    if (!this.running) void this.run();
  }

  /** Holds an append made while a write is under way or about to start (writing), to be framed before the next. */
  hold(append: H): void {
    assert.ok(this.running, "appends are held only while a write is under way");
    this.held.push(append);
  }

  /** Takes appends again after a failure, once the caller has put the segments back as they were before it. */
  resume(): void {
    assert.ok(!this.running && this.steps.length === 0 && this.pending.length === 0 && this.held.length === 0, "resume only once the failed commit is over");
    this.failure = null;
  }

  /** Resolves when nothing is queued or being written. */
  drain(): Promise<void> {
    if (!this.running && this.steps.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private async run(): Promise<void> {
    this.running = true;
    try {
      // The first write waits for the appends made in the same turn (held meanwhile: writing is
      // true), so that they share it. A cluster member writes a Raft Ready's entries as one append
      // per run (term, type and creation time), and an idempotent producer's batch is two runs, its
      // mark and its records: started at once, the first run's write went alone and the rest waited
      // for a second write and fdatasync (issue 12: two fdatasyncs per exactly-once Produce, on
      // every node).
      await undefined;
      for (;;) {
        if (this.held.length > 0) this.options.frameHeld(this.held.splice(0));
        if (this.steps.length === 0 || this.failure !== null) break;
        // One step (an idle log's commit of one append) needs no merging.
        const steps = this.steps.length === 1 ? this.steps.splice(0) : mergeSteps(this.steps.splice(0));
        const covered = this.pending.length;
        for (const step of steps) await this.write(step);
        this.settle(covered);
      }
    } catch (error) {
      this.fail(error);
    } finally {
      this.running = false;
      for (const resolve of this.drainWaiters.splice(0)) resolve();
    }
  }

  private async write(step: WriteStep): Promise<void> {
    if (step.syncDirectory) await syncDirectory(step.segment.directory);
    const sync = this.options.syncEachCommit || step.seal;
    const startedMs = performance.now();
    if (step.frames.length > 0) {
      await step.segment.files.append(step.frames, sync);
      for (const frames of step.frames) this.options.onWritten(frames);
    } else if (sync) {
      await step.segment.files.sync();
    }
    if (sync) this.options.onSynced?.((performance.now() - startedMs) / 1000);
    // A sealed segment's index is only read from now on: keep it out of the resident set.
    if (step.seal) step.segment.files.releaseMemory();
  }

  /** Resolves the first `covered` pending appends, whose steps have all been written. */
  private settle(covered: number): void {
    const done = this.pending.splice(0, covered);
    if (done.length === 0) return;
    this.options.onCommitted(done[done.length - 1]!.endOffset);
    for (const append of done) {
      this.release(append.bytes);
      append.resolve(append.firstOffset);
    }
  }

  private fail(error: unknown): void {
    this.failure = error;
    this.steps = [];
    for (const append of [...this.pending.splice(0), ...this.held.splice(0)]) {
      this.release(append.bytes);
      append.reject(error);
    }
    this.options.onFailed(error);
  }
}

/** Joins consecutive steps for the same segment so each segment gets one write and one sync. */
function mergeSteps(steps: readonly WriteStep[]): WriteStep[] {
  const merged: Array<{ segment: Segment; frames: Buffer[]; seal: boolean; syncDirectory: boolean }> = [];
  for (const step of steps) {
    const last = merged[merged.length - 1];
    if (last !== undefined && last.segment === step.segment && !step.syncDirectory) {
      for (const frames of step.frames) last.frames.push(frames);
      last.seal ||= step.seal;
    } else {
      merged.push({ ...step, frames: [...step.frames] });
    }
  }
  return merged;
}
