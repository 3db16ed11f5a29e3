// The live tail: follows the log with ConsumeStream and shows each data record once, in offset
// order. It remembers the next offset to show, so pausing, jumping, a token change and a failover
// all resume exactly there: a stream that fails is reopened (on whichever node answers, see
// node-connection.ts) from that offset, and a record below it is never shown twice. Raft's own
// records (types 1 and 2) advance the offset but are not shown. The list keeps the latest rows only.
import { Code, ConnectError } from "@connectrpc/connect";
import type { Record as LogRecord } from "../gen/log/v1/log_pb.ts";
import type { NodeConnection } from "./node-connection.ts";

/** Rows kept in the page; older ones are dropped from the top. */
const ROWS_MAX = 1_000;
/** Records shown from before the end when the console opens. */
const INITIAL_BACKLOG_RECORDS = 20n;
const RETRY_DELAY_MS_MIN = 200;
const RETRY_DELAY_MS_MAX = 3_000;
/** Errors that retrying on another node does not cure: the user has to act. */
const FINAL_CODES: ReadonlySet<Code> = new Set([Code.OutOfRange, Code.Unauthenticated, Code.PermissionDenied, Code.InvalidArgument]);

export class LiveTail {
  /** The next offset to show; undefined until the first stream chooses it. */
  private nextOffset: bigint | undefined;
  /** Each follow loop has a number; pausing or jumping starts a new one, which ends the old. */
  private run = 0;
  private abort: AbortController | undefined;
  private paused = false;
  private readonly decoder = new TextDecoder();

  constructor(
    private readonly connection: NodeConnection,
    private readonly list: HTMLOListElement,
    private readonly status: HTMLElement,
  ) {}

  get isPaused(): boolean {
    return this.paused;
  }

  /** Follows from where it stopped (or near the end, the first time). */
  resume(): void {
    this.paused = false;
    void this.follow(this.restart());
  }

  pause(): void {
    this.paused = true;
    this.restart();
    this.say(`Paused before offset ${this.nextOffset ?? "?"}.`);
  }

  /** Clears the list and follows from `offset`. */
  jumpTo(offset: bigint): void {
    this.nextOffset = offset;
    this.list.replaceChildren();
    if (!this.paused) this.resume();
    else this.say(`Paused before offset ${offset}.`);
  }

  /** Clears the list and follows from the first record created at or after `timeMs`. */
  async jumpToTime(timeMs: number): Promise<void> {
    const { offset } = await this.connection.client.offsetForTimestamp({ timestampMs: BigInt(Math.max(0, Math.floor(timeMs))) });
    this.jumpTo(offset);
  }

  /** Ends the current follow loop; returns the number of the next. */
  private restart(): number {
    this.abort?.abort();
    return ++this.run;
  }

  private async follow(run: number): Promise<void> {
    for (let failures = 0; run === this.run; failures++) {
      const abort = new AbortController();
      this.abort = abort;
      try {
        this.nextOffset ??= await this.initialOffset();
        this.say(`Following from offset ${this.nextOffset} on ${this.connection.baseUrl}.`);
        for await (const { record } of this.connection.client.consumeStream({ offset: this.nextOffset }, { signal: abort.signal })) {
          if (record !== undefined && run === this.run) this.show(record);
          failures = 0;
        }
        if (run !== this.run) return;
        this.say("The node ended the stream; reconnecting…");
      } catch (error) {
        if (run !== this.run) return;
        const connectError = ConnectError.from(error);
        if (FINAL_CODES.has(connectError.code)) {
          this.say(`Stopped: ${Code[connectError.code]}: ${connectError.rawMessage}`);
          return;
        }
        this.say(`The stream failed (${connectError.rawMessage}); reconnecting…`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(RETRY_DELAY_MS_MAX, RETRY_DELAY_MS_MIN * 2 ** failures)));
      if (run === this.run) await this.connection.failover();
    }
  }

  private async initialOffset(): Promise<bigint> {
    const { lowestOffset, endOffset } = await this.connection.client.getOffsets({});
    return endOffset - lowestOffset > INITIAL_BACKLOG_RECORDS ? endOffset - INITIAL_BACKLOG_RECORDS : lowestOffset;
  }

  private show(record: LogRecord): void {
    // A resumed stream may start below what was shown (never, by its contract; but never twice either).
    if (this.nextOffset !== undefined && record.offset < this.nextOffset) return;
    this.nextOffset = record.offset + 1n;
    if (record.type !== 0) return;
    const atBottom = this.list.scrollTop + this.list.clientHeight >= this.list.scrollHeight - 4;
    const row = document.createElement("li");
    row.dataset.offset = record.offset.toString();
    const offset = document.createElement("span");
    offset.className = "offset";
    offset.textContent = record.offset.toString();
    const time = document.createElement("time");
    time.className = "time";
    const created = new Date(Number(record.timestampMs));
    time.dateTime = created.toISOString();
    time.textContent = created.toLocaleTimeString();
    const value = document.createElement("span");
    value.className = "value";
    value.textContent = this.decoder.decode(record.value);
    row.append(offset, time, value);
    this.list.append(row);
    while (this.list.childElementCount > ROWS_MAX) this.list.firstElementChild!.remove();
    if (atBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  private say(text: string): void {
    this.status.textContent = text;
  }
}
