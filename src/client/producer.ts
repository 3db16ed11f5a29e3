// A batching producer: records sent within lingerMs of each other (or until a batch is full) travel
// in one ProduceBatch, and each record's promise resolves with its own offset once the batch is
// durable. With one batch in flight (the default) records are appended in the order they were
// sent; while a batch is in flight the next one fills, so batches grow with load on their own. A
// record over the node's record size limit refuses its whole batch before anything is appended:
// the batch is then sent again in halves, and halves of the half refused, so that it fails alone.
import { LogClosedError, RecordTooLargeError } from "../errors.ts";
import { integerOption, TIMER_MS_MAX } from "./option-checks.ts";
import { checkValue } from "./record-values.ts";

export interface ProducerOptions {
  /** How long a record may wait for others to share its batch. Default 2 ms; 0 sends on the next turn. */
  readonly lingerMs?: number;
  /** A batch is sent once its values reach this many bytes. Default 1 MiB. */
  readonly batchBytesMax?: number;
  /** A batch is sent once it has this many records. Default 10,000. */
  readonly batchRecordsMax?: number;
  /**
   * Batches sent before the first is answered. Default 1, which keeps send order; more can raise
   * throughput on slow links, but HTTP/2 may then deliver a later batch first.
   */
  readonly inFlightBatchesMax?: number;
  /** `full` turns true once this many bytes wait to be sent (see drained()). Default 32 MiB. */
  readonly bufferBytesMax?: number;
  /**
   * After a batch fails, fail the records still queued with its error and refuse further sends with
   * it, instead of going on. With one batch in flight, the records appended are then exactly those
   * sent before the failed batch's first record. Default false.
   */
  readonly stopOnFailure?: boolean;
}

interface Pending {
  readonly value: Uint8Array;
  readonly resolve: (offset: bigint) => void;
  readonly reject: (error: unknown) => void;
}

type SendBatch = (values: readonly Uint8Array[]) => Promise<bigint>;

export class Producer {
  private readonly lingerMs: number;
  private readonly batchBytesMax: number;
  private readonly batchRecordsMax: number;
  private readonly inFlightBatchesMax: number;
  private readonly bufferBytesMax: number;
  /** Records waiting to be sent are queue[head...]; the consumed prefix is dropped now and then. */
  private queue: Pending[] = [];
  /** Parts of batches refused for a record over the node's limit, sent again, in order, before the queue. */
  private refused: Pending[][] = [];
  private head = 0;
  private queueBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private sent = 0;
  private closed = false;
  private readonly stopOnFailure: boolean;
  /** The error of the failed batch that stopped this producer (stopOnFailure). */
  private stoppedBy: { readonly error: unknown } | undefined;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly spaceWaiters: Array<() => void> = [];

  constructor(
    private readonly sendBatch: SendBatch,
    options: ProducerOptions = {},
  ) {
    this.lingerMs = integerOption("lingerMs", options.lingerMs ?? 2, 0, TIMER_MS_MAX);
    this.batchBytesMax = integerOption("batchBytesMax", options.batchBytesMax ?? 1024 * 1024, 1);
    this.batchRecordsMax = integerOption("batchRecordsMax", options.batchRecordsMax ?? 10_000, 1);
    this.inFlightBatchesMax = integerOption("inFlightBatchesMax", options.inFlightBatchesMax ?? 1, 1);
    this.bufferBytesMax = integerOption("bufferBytesMax", options.bufferBytesMax ?? 32 * 1024 * 1024, 1);
    this.stopOnFailure = options.stopOnFailure === true;
  }

  /**
   * Queues one record; resolves with its offset once it is durable, or rejects with the batch's typed
   * error. `value` is kept, not copied, until its batch is sent: it must not change until then.
   */
  send(value: Uint8Array): Promise<bigint> {
    if (this.stoppedBy !== undefined) return Promise.reject(this.stoppedBy.error);
    if (this.closed) return Promise.reject(new LogClosedError("the producer is closed"));
    return new Promise((resolve, reject) => {
      checkValue(value);
      this.queue.push({ value, resolve, reject });
      this.queueBytes += value.length;
      this.schedule();
    });
  }

  /**
   * Records handed to the node so far, in send order: those of every batch sent or being sent. With
   * stopOnFailure, once stopped, the records after these were never sent, so only the failed batch's
   * and those in flight with it can be in the log without an acknowledgement.
   */
  get sentRecords(): number {
    return this.sent;
  }

  /** Bytes queued and not yet sent. */
  get bufferedBytes(): number {
    return this.queueBytes;
  }

  /** True once bufferBytesMax bytes wait to be sent: a caller that does not await each send should await drained(). */
  get full(): boolean {
    return this.queueBytes >= this.bufferBytesMax;
  }

  /** Resolves once fewer than half of bufferBytesMax bytes wait to be sent. */
  drained(): Promise<void> {
    if (this.queueBytes < this.bufferBytesMax / 2) return Promise.resolve();
    return new Promise((resolve) => this.spaceWaiters.push(resolve));
  }

  /** Sends what is queued now and resolves once every record sent so far is answered (acknowledged or failed). */
  flush(): Promise<void> {
    this.sendNow();
    if (!this.waiting && this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Flushes, then refuses further sends. */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private schedule(): void {
    if (this.queueBytes >= this.batchBytesMax || this.queued >= this.batchRecordsMax) {
      this.sendNow();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => this.sendNow(), this.lingerMs);
    }
  }

  /** Sends as many batches as the in-flight budget allows. */
  private sendNow(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    while (this.waiting && this.inFlight < this.inFlightBatchesMax) this.sendOne(this.refused.shift() ?? this.takeBatch());
  }

  private get queued(): number {
    return this.queue.length - this.head;
  }

  /** Whether records wait to be sent (again). */
  private get waiting(): boolean {
    return this.refused.length > 0 || this.queued > 0;
  }

  private takeBatch(): Pending[] {
    let end = this.head;
    let bytes = 0;
    const limit = Math.min(this.queue.length, this.head + this.batchRecordsMax);
    while (end < limit && (end === this.head || bytes + this.queue[end]!.value.length <= this.batchBytesMax)) {
      bytes += this.queue[end]!.value.length;
      end++;
    }
    const batch = this.queue.slice(this.head, end);
    this.head = end;
    if (this.head === this.queue.length || this.head > 65_536) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    this.queueBytes -= bytes;
    if (this.queueBytes < this.bufferBytesMax / 2) for (const wake of this.spaceWaiters.splice(0)) wake();
    return batch;
  }

  /** Fails every queued record with `error` and refuses further sends with it (stopOnFailure). */
  private stop(error: unknown): void {
    this.stoppedBy ??= { error };
    clearTimeout(this.timer);
    this.timer = undefined;
    const queued = [...this.refused.flat(), ...this.queue.slice(this.head)];
    this.refused = [];
    this.queue = [];
    this.head = 0;
    this.queueBytes = 0;
    for (const wake of this.spaceWaiters.splice(0)) wake();
    for (const pending of queued) pending.reject(error);
  }

  /**
   * Sends the halves of a batch refused for one of its records (nothing of it was appended) before
   * anything else, in order: halving again each half refused, the records in bounds are appended in
   * their order and a record over the limit fails by itself, in about log2(batch) refused calls.
   */
  private sendInHalves(batch: readonly Pending[]): void {
    this.sent -= batch.length;
    const middle = Math.ceil(batch.length / 2);
    this.refused.unshift(batch.slice(0, middle), batch.slice(middle));
  }

  private sendOne(batch: Pending[]): void {
    this.inFlight++;
    this.sent += batch.length;
    this.sendBatch(batch.map((pending) => pending.value)).then(
      (first) => batch.forEach((pending, i) => pending.resolve(first + BigInt(i))),
      (error: unknown) => {
        if (error instanceof RecordTooLargeError && batch.length > 1 && this.stoppedBy === undefined) return this.sendInHalves(batch);
        batch.forEach((pending) => pending.reject(error));
        if (this.stopOnFailure) this.stop(error);
      },
    ).finally(() => {
      this.inFlight--;
      if (this.waiting) {
        // Records that queued while this batch was in flight go at once: they have waited long enough.
        this.sendNow();
      } else if (this.inFlight === 0) {
        for (const wake of this.idleWaiters.splice(0)) wake();
      }
    });
  }
}
