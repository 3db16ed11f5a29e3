// Repair of a replica's damaged records from its peers. The log's scrub names the records that fail
// their checksums; for each segment holding some, the span from its first to its last damaged record
// is fetched again from a peer (RepairRequest / RepairResponse over the Raft transport), verified
// frame by frame (CRC32C over offset and bytes) as it arrives, and put in place with
// Log.replaceRange, which also requires the terms it still holds to match. By Raft's Log Matching
// property a peer's record with the same index and term is the same record, so whichever peer
// answers, the replica ends up holding exactly what it held before the damage.
import { setTimeout as delay } from "node:timers/promises";
import { DataLossError, InvalidArgumentError, OffsetOutOfRangeError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import type { DamagedRange, Log } from "../storage/index.ts";
import { native } from "../storage/native.ts";
import type { RepairMessage, RepairRequest, RepairResponse } from "./peer-message.ts";

/** Most stored bytes one RepairResponse carries (a span takes as many as it needs). */
const REPAIR_RESPONSE_BYTES_MAX = 1 << 20;
/** Pause before asking again for records that did not fit the log (another peer is asked next). */
const REFIT_PAUSE_MS = 500;
/** Rounds of asking every peer in vain between two warnings that the repair is stuck. */
const MISSED_ROUNDS_PER_WARNING = 20;

export interface RangeRepairOptions {
  readonly nodeId: number;
  readonly log: Log;
  readonly sendRepair: (message: RepairMessage) => void;
  /** The peers that may hold the records, asked in turn. */
  readonly peers: () => readonly number[];
  readonly logger: Logger;
  /** A peer that has not answered within this time is skipped for the next. */
  readonly responseTimeoutMs: number;
}

/** Records [low, high) to fetch again, all in one segment. */
interface Span {
  readonly low: number;
  readonly high: number;
}

interface Awaited {
  readonly peer: number;
  readonly low: number;
  readonly resolve: (frames: Buffer | undefined) => void;
}

/** Answers a peer's request from `log`: its intact frames from `low` on, or none if it has none to give. */
export function answerRepairRequest(log: Log, nodeId: number, request: RepairRequest): RepairResponse {
  let frames: Uint8Array = Buffer.alloc(0);
  try {
    frames = log.readFrames(request.low, { countMax: request.high - request.low, bytesMax: REPAIR_RESPONSE_BYTES_MAX }).frames;
  } catch (error) {
    // Damaged here too, or not held: another peer may have it.
    if (!(error instanceof DataLossError || error instanceof OffsetOutOfRangeError)) throw error;
  }
  return { type: "repair-response", from: nodeId, to: request.from, low: request.low, frames };
}

export class RangeRepair {
  private awaited: Awaited | null = null;
  private turn = 0;

  constructor(private readonly options: RangeRepairOptions) {}

  /**
   * Scrubs the log and replaces every damaged range with records fetched from the peers, until a
   * scrub finds none; resolves with the number of records replaced. Keeps asking while no peer can
   * give a record (a peer may be down); rejects only when `signal` aborts.
   */
  async run(signal: AbortSignal): Promise<number> {
    const { log, logger } = this.options;
    let replaced = 0;
    for (;;) {
      const { damaged } = await log.scrub({ signal });
      if (damaged.length === 0) return replaced;
      logger.warn("damaged records found: fetching them again from the peers", { ranges: damaged.map(describeRange) });
      for (const span of spansBySegment(damaged)) {
        const frames = await this.fetch(span, signal);
        try {
          await log.replaceRange(span.low, frames);
        } catch (error) {
          // Records that do not fit (a term this log holds differs): not the same records; ask again.
          if (!(error instanceof DataLossError || error instanceof InvalidArgumentError)) throw error;
          logger.warn("fetched records did not fit the log; asking again", { low: span.low, high: span.high, error });
          await delay(REFIT_PAUSE_MS, undefined, { signal });
          continue;
        }
        replaced += span.high - span.low;
        logger.info("damaged records repaired from a peer", { low: span.low, high: span.high });
      }
    }
  }

  /** A RepairResponse from a peer: settles the fetch waiting for it, if it still is. */
  receive(response: RepairResponse): void {
    const awaited = this.awaited;
    if (awaited === null || response.from !== awaited.peer || response.low !== awaited.low) return;
    this.awaited = null;
    // Copied: the frames are a view into the transport's receive buffer.
    awaited.resolve(response.frames.length === 0 ? undefined : Buffer.from(response.frames));
  }

  /** The records of `span` as verified frames, gathered from the peers a response at a time. */
  private async fetch(span: Span, signal: AbortSignal): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let misses = 0;
    for (let at = span.low; at < span.high; ) {
      const peers = this.options.peers();
      const peer = peers[this.turn++ % Math.max(1, peers.length)];
      const frames = peer === undefined ? undefined : await this.ask(peer, at, span.high, signal);
      const count = frames === undefined ? 0 : this.verifiedCount(frames, at, span.high, peer!);
      if (count === 0) {
        // Nobody had it this round: wait a little longer each time before asking around again.
        const round = Math.max(1, peers.length);
        if (++misses % round === 0) await delay(Math.min(2_000, 50 * misses), undefined, { signal });
        if (misses % (MISSED_ROUNDS_PER_WARNING * round) === 0) {
          this.options.logger.warn("no peer could give damaged records yet; still asking", { low: at, high: span.high, peers });
        }
        continue;
      }
      chunks.push(frames!);
      at += count;
    }
    return Buffer.concat(chunks);
  }

  /** How many records `frames` holds if they are intact records [at, at + n) with at + n <= high; else 0. */
  private verifiedCount(frames: Buffer, at: number, high: number, peer: number): number {
    try {
      const count = native.verifyFrames(frames, at);
      if (at + count <= high) return count;
    } catch (error) {
      if (!(error instanceof DataLossError)) throw error;
    }
    this.options.logger.warn("a peer's repair records failed verification", { peer, at });
    return 0;
  }

  /** Asks `peer` for [low, high); resolves with its frames, or undefined if it has none or does not answer in time. */
  private ask(peer: number, low: number, high: number, signal: AbortSignal): Promise<Buffer | undefined> {
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const settle = (frames: Buffer | undefined): void => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
        if (this.awaited?.resolve === settle) this.awaited = null;
        resolve(frames);
      };
      const onAbort = (): void => {
        clearTimeout(timer);
        this.awaited = null;
        reject(signal.reason);
      };
      const timer = setTimeout(() => settle(undefined), this.options.responseTimeoutMs);
      signal.addEventListener("abort", onAbort, { once: true });
      this.awaited = { peer, low, resolve: settle };
      this.options.sendRepair({ type: "repair-request", from: this.options.nodeId, to: peer, low, high });
    });
  }
}

/** One span per segment, from its first damaged record to its last (replaceRange takes a segment's damage in one call). */
function spansBySegment(damaged: readonly DamagedRange[]): Span[] {
  const spans = new Map<number, { low: number; high: number }>();
  for (const range of damaged) {
    const span = spans.get(range.segmentBaseOffset);
    if (span === undefined) spans.set(range.segmentBaseOffset, { low: range.firstOffset, high: range.endOffset });
    else span.high = Math.max(span.high, range.endOffset);
  }
  return [...spans.values()];
}

function describeRange(range: DamagedRange): string {
  return `[${range.firstOffset}, ${range.endOffset})`;
}
