// A consumer that follows the log through the routing client for the whole of a fault run, and its
// end-of-run check: the stream resumes on another member after every failover, pause or partition,
// so it must deliver exactly the reference node's records, in offset order, each once, and with them
// every acknowledged record at its acknowledged offset.
import type { ClusterClient } from "../../src/client/cluster-client.ts";
import type { StoredRecord } from "./replica-check.ts";
import { waitUntil } from "./wait-until.ts";

export interface FollowReport {
  /** Records the stream delivered. */
  readonly delivered: number;
  /** Acknowledged records the stream never delivered at their acknowledged offset. */
  readonly missing: number;
  /** Records delivered more than once (by offset). */
  readonly repeated: number;
  /** Records delivered out of offset order, or unlike the reference node's record at that offset. */
  readonly misordered: number;
  /** Why the stream ended before it was stopped, if it did. */
  readonly failure: string | undefined;
  /** Up to 10 examples of what went wrong. */
  readonly examples: string[];
}

export class FollowingConsumer {
  private readonly records: StoredRecord[] = [];
  private readonly stopping = new AbortController();
  private failure: string | undefined;
  private readonly done: Promise<void>;

  /** Starts following from the lowest retained offset. */
  constructor(client: ClusterClient) {
    this.done = this.follow(client);
  }

  /**
   * Waits (up to `timeoutMs`) for the stream to reach the end of `reference` (the records of the
   * node holding the most, in offset order), stops it and checks what it delivered.
   */
  async check(reference: readonly StoredRecord[], acknowledged: ReadonlyMap<number, string>, timeoutMs: number): Promise<FollowReport> {
    const last = reference.at(-1)?.offset ?? -1;
    await waitUntil("the following consumer to reach the end of the log", () => this.failure !== undefined || (this.records.at(-1)?.offset ?? -1) >= last, timeoutMs).catch(
      (error: unknown) => (this.failure ??= (error as Error).message),
    );
    await this.stop();
    return compare(this.records, reference, acknowledged, this.failure);
  }

  /** Ends the stream (safe to call more than once). */
  async stop(): Promise<void> {
    this.stopping.abort();
    await this.done;
  }

  private async follow(client: ClusterClient): Promise<void> {
    try {
      for await (const record of client.consume({ from: "start", follow: true, signal: this.stopping.signal })) {
        this.records.push({ offset: Number(record.offset), type: record.type, value: Buffer.from(record.value).toString("hex") });
      }
    } catch (error) {
      this.failure = `the stream failed: ${(error as Error).message}`;
    }
  }
}

function compare(delivered: readonly StoredRecord[], reference: readonly StoredRecord[], acknowledged: ReadonlyMap<number, string>, failure: string | undefined): FollowReport {
  const examples: string[] = [];
  const note = (text: string): void => {
    if (examples.length < 10) examples.push(text);
  };
  const referenceAt = new Map(reference.map((record) => [record.offset, record]));
  const seen = new Map<number, string>();
  let repeated = 0;
  let misordered = 0;
  let previous: number | undefined;
  for (const record of delivered) {
    if (seen.has(record.offset)) {
      repeated++;
      note(`repeated: offset ${record.offset}`);
    } else if (previous !== undefined && record.offset !== previous + 1) {
      misordered++;
      note(`out of order: offset ${record.offset} after ${previous}`);
    }
    const expected = referenceAt.get(record.offset);
    if (expected !== undefined && (expected.value !== record.value || expected.type !== record.type)) {
      misordered++;
      note(`unlike the reference: offset ${record.offset}`);
    }
    seen.set(record.offset, record.value);
    previous = record.offset;
  }
  let missing = 0;
  for (const [offset, value] of acknowledged) {
    if (seen.get(offset) === value) continue;
    missing++;
    note(`missing: acknowledged offset ${offset}`);
  }
  return { delivered: delivered.length, missing, repeated, misordered, failure, examples };
}
