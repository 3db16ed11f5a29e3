// The routing client for a cluster: given any members' addresses, it learns the members and the
// leader (GetServers), sends writes straight to the leader and spreads reads over the followers in
// turn. Every call has a deadline (callTimeoutMs, retries included). A call that fails because a
// member is down (or does not complete a connection within connectTimeoutMs), not the leader any
// more, or removed is tried again after a capped, jittered backoff, with the cluster asked again
// who leads; which failures a produce may retry is
// retry-policy.ts's rule. By default the client is an idempotent producer: it draws a random
// producer id and numbers its produce calls, and a retry carries the same number, so the leader
// appends each call's records once however often it is sent. A stream that follows the tail resumes on another member after a failover
// or a member's death, from the offset after the last record it delivered: no gap, no repeat.
//
// Reads on a follower are committed records only (a follower serves its log cut at the commit index
// it has learned), but that index trails the leader's by up to a heartbeat: a record just
// acknowledged may not be there yet. A read beyond a follower's end is asked of the leader once
// more, so read(offset) of an acknowledged offset finds it; `reads: "leader"` reads only there.
//
// The client keeps to one cluster (cluster-view.ts): the one `clusterId` names, else the one its
// addresses answer for; it names it in every call, and a node of another cluster (a member that lost
// its data and was bootstrapped again at its old address) refuses the call before doing anything.
import { randomBytes } from "node:crypto";
import { setTimeout as delay } from "node:timers/promises";
import { BufferPool } from "../buffer-pool.ts";
import { ClusterMismatchError, OffsetOutOfRangeError, RpcCode, RpcError } from "../errors.ts";
import type * as wire from "../gen/log/v1/log_pb.ts";
import { CLUSTER_ID_HEADER, parseClusterId } from "../wire/cluster-id.ts";
import { ProduceBatchMessage, producerFieldBytesMax } from "../wire/record-codec.ts";
import { memberAddresses } from "./address-list.ts";
import { ClusterView } from "./cluster-view.ts";
import { consumeBatches, consumeRecords, type AbortOptions, type ConsumedRecord, type ConsumeOptions, type ReadOptions, type RecordSource } from "./consume-loop.ts";
import { checkChannelOptions, clientClosed, ConnectTimeoutError, NodeChannel, NotConnectedError, pastDeadline, type ChannelOptions } from "./node-channel.ts";
import { choiceOption, integerOption, TIMER_MS_MAX } from "./option-checks.ts";
import { Producer, type ProducerOptions } from "./producer.ts";
import { fetchRequest, readBounds, u64Argument } from "./read-requests.ts";
import { checkValue, checkValues } from "./record-values.ts";
import { Backoff, mayHaveAppended, retryable, transient, writeFailure, type CallKind, type ProduceDelivery } from "./retry-policy.ts";
import { SequenceWindow } from "./sequence-window.ts";
import { untilAborted } from "./until-aborted.ts";

export interface ClusterClientOptions extends ChannelOptions {
  /** Deadline of each call, retries included, in ms; a following stream has none, but reopening it after a failure does. Default 30 s. */
  readonly callTimeoutMs?: number;
  /**
   * What a produce may risk when its outcome is unknown (see retry-policy.ts). Default
   * "exactly-once"; its calls' numbers stay within 64 of the oldest unsettled call (a new call
   * waits), so that a late retry is not refused as SEQUENCE_TOO_OLD by a server that remembers the
   * default 128 numbers per producer.
   */
  readonly produceDelivery?: ProduceDelivery;
  /** Where reads go: "followers" in turn (default; the leader when there is none), or the "leader" only (it has every acknowledged record). */
  readonly reads?: "followers" | "leader";
  /** First wait before a retry, in ms (jittered, doubling up to backoffMaxMs). Default 50. */
  readonly backoffInitialMs?: number;
  /** Longest wait between retries, in ms; also how long a failed member is passed over for reads. Default 1,000. */
  readonly backoffMaxMs?: number;
  /**
   * How long a member may take to complete a new connection (TCP, TLS, the HTTP/2 settings) before
   * this attempt gives it up and tries another, in ms: a paused or overwhelmed node takes
   * connections in its kernel and never answers them. Default 5,000.
   */
  readonly connectTimeoutMs?: number;
  /**
   * The cluster to keep to (16 hex digits, as GetServers and `loghouse status` show it). Absent: the
   * one the addresses answer for, and if they answer for two, every call fails with
   * ClusterMismatchError rather than pick one.
   */
  readonly clusterId?: string;
}

const CALL_TIMEOUT_MS_DEFAULT = 30_000;
const CONNECT_TIMEOUT_MS_DEFAULT = 5_000;
/** Random bytes of a producer id: collisions between clients are out of the question. */
const PRODUCER_ID_BYTES = 16;

type Route = "leader" | "reader";

/** What an exactly-once produce call names: this client's producer id and the call's number. */
interface ProducerName {
  readonly producerId: Uint8Array;
  readonly sequence: bigint;
}

export class ClusterClient implements RecordSource {
  private readonly channels = new Map<string, NodeChannel>();
  /** Aborted by close(): ends a wait between attempts at once, and tells the calls after it that the client is closed. */
  private readonly closing = new AbortController();
  private readonly view: ClusterView;
  private readonly backoff: Backoff;
  private readonly callTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly delivery: ProduceDelivery;
  /** How each member's channel is made: the caller's options, and its calls name the cluster once known. */
  private readonly channelOptions: ChannelOptions;
  private readonly readRoute: Route;
  private readonly backoffMaxMs: number;
  /** This client's producer id (exactly-once only); its produce calls are numbered from 0. */
  private readonly producerId = randomBytes(PRODUCER_ID_BYTES);
  private readonly producerFieldBytes = producerFieldBytesMax(this.producerId);
  /** Memory for encoded batch requests, as NodeChannel keeps for its own. */
  private readonly requestBuffers = new BufferPool();
  /** Half the server's default window of remembered numbers per producer (producers.sequencesPerProducerMax, 128). */
  private readonly sequences = new SequenceWindow(64n);

  /** `addresses`: host:port of any members (a list, or one string with commas); one that is up will do. */
  constructor(
    addresses: string | readonly string[],
    private readonly options: ClusterClientOptions = {},
  ) {
    checkChannelOptions(options);
    this.callTimeoutMs = integerOption("callTimeoutMs", options.callTimeoutMs ?? CALL_TIMEOUT_MS_DEFAULT, 1, TIMER_MS_MAX);
    this.connectTimeoutMs = integerOption("connectTimeoutMs", options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS_DEFAULT, 1, TIMER_MS_MAX);
    this.delivery = choiceOption("produceDelivery", options.produceDelivery ?? "exactly-once", ["exactly-once", "at-least-once", "at-most-once"]);
    this.readRoute = choiceOption("reads", options.reads ?? "followers", ["followers", "leader"]) === "leader" ? "leader" : "reader";
    this.backoffMaxMs = options.backoffMaxMs ?? 1_000;
    this.backoff = new Backoff(options.backoffInitialMs ?? 50, this.backoffMaxMs);
    const seeds = memberAddresses(addresses);
    const clusterId = options.clusterId === undefined ? undefined : parseClusterId(options.clusterId, "clusterId");
    this.view = new ClusterView(seeds, (address, deadline) => this.askServers(address, deadline), this.backoffMaxMs, this.connectTimeoutMs, clusterId);
    const callHeaders = options.callHeaders;
    this.channelOptions = {
      ...options,
      callHeaders: () => {
        const known = this.view.clusterId;
        const headers = callHeaders?.() ?? {};
        return known === undefined ? headers : { ...headers, [CLUSTER_ID_HEADER]: known };
      },
    };
  }

  /** Appends one record at the leader; resolves with its offset once it is durable on a majority. */
  async produce(value: Uint8Array): Promise<bigint> {
    checkValue(value);
    // Copied now: the caller may reuse its buffer once the call returns, before a send or retry reads it.
    const record = { value: Buffer.from(value) };
    const response = await this.write<{ offset: bigint }>("produce", (producer) => ({ record, producer }));
    return response.offset;
  }

  /** Appends records with consecutive offsets in one message at the leader; resolves with the first once all are durable. */
  async produceBatch(values: readonly Uint8Array[]): Promise<bigint> {
    checkValues(values);
    // Encoded now, for the same reason; every send of the call names the same producer, if any.
    const message = new ProduceBatchMessage(values, this.producerFieldBytes, this.requestBuffers.take);
    const response = await this.write<{ firstOffset: bigint }>(
      "produceBatch",
      (producer) => message.bytes(producer),
      () => this.requestBuffers.give(message.buffer),
    );
    return response.firstOffset;
  }

  /**
   * Sends a produce `method` to the leader, its request made by `request`; exactly-once, naming this
   * client's producer id and the call's number.
   */
  private async write<T>(method: string, request: (producer: ProducerName | undefined) => object, spent?: () => void): Promise<T> {
    let sequence: bigint | undefined;
    if (this.delivery === "exactly-once") sequence = await this.sequences.take();
    const built = request(sequence === undefined ? undefined : { producerId: this.producerId, sequence });
    let sends = 0;
    try {
      const response = await this.call<T>("leader", "write", this.delivery, (channel, deadline) => {
        sends++;
        return channel.unary("log", method, built, deadline);
      });
      // Only a request whose one send was answered OK is known to be out of grpc-js's hands (see
      // NodeChannel's request buffers); one sent again after a failure is left to the collector.
      if (sends === 1) spent?.();
      return response;
    } finally {
      if (sequence !== undefined) this.sequences.settle(sequence);
    }
  }

  /** A producer that batches records (see ProducerOptions); its batches are retried as produceBatch is. */
  producer(options: ProducerOptions = {}): Producer {
    return new Producer((values) => this.produceBatch(values), options);
  }

  /** The committed record at `offset`; OffsetOutOfRangeError outside the log. */
  async read(offset: bigint | number): Promise<ConsumedRecord> {
    const response = await this.readCall<{ record: ConsumedRecord }>("consume", { offset: u64Argument("offset", offset) });
    return response.record;
  }

  /** Committed records from `offset` on (a fetch); with maxWaitMs, waits that long for a record at the end of the log. */
  async readBatch(offset: bigint | number, options: ReadOptions & AbortOptions & { maxWaitMs?: number } = {}): Promise<wire.ConsumeBatchResponse> {
    return this.readCall("consumeBatch", fetchRequest(offset, options), options.signal);
  }

  /** Records in offset order (see ConsumeOptions); a following one resumes across failovers without gaps or repeats. */
  consume(options: ConsumeOptions = {}): AsyncGenerator<ConsumedRecord> {
    return consumeRecords(this, options);
  }

  /** Like consume(), one array of consecutive records at a time. */
  consumeBatches(options: ConsumeOptions = {}): AsyncGenerator<ConsumedRecord[]> {
    return consumeBatches(this, options);
  }

  /** The range of offsets the log holds, as the member asked sees it: [lowestOffset, endOffset). */
  offsets(options: AbortOptions = {}): Promise<wire.GetOffsetsResponse> {
    return this.readCall("getOffsets", {}, options.signal);
  }

  /** The first offset whose record was created at or after `timestampMs` (found: false with the end offset if none). */
  async offsetForTimestamp(timestampMs: bigint | number): Promise<wire.OffsetForTimestampResponse> {
    return this.readCall("offsetForTimestamp", { timestampMs: u64Argument("timestampMs", timestampMs) });
  }

  /** The members as the leader sees them (it alone knows every member's liveness and lag). */
  async servers(): Promise<wire.Server[]> {
    return (await this.call<wire.GetServersResponse>("leader", "read", this.delivery, (channel, deadline) => channel.unary("log", "getServers", {}, deadline))).servers;
  }

  /** Removes `member` (its name, or its Raft id; asked of the leader); resolves once the change is committed. Retried only when it certainly was not acted on. */
  async removeMember(member: string): Promise<void> {
    await this.call("leader", "write", "at-most-once", (channel, deadline) => channel.unary("admin", "removeMember", { name: member }, deadline));
  }

  /** Hands the leadership to voter `member` (its name, or its Raft id); resolves once the old leader has stepped down. */
  async transferLeadership(member: string): Promise<void> {
    await this.call("leader", "write", "at-most-once", (channel, deadline) => channel.unary("admin", "transferLeadership", { name: member }, deadline));
  }

  /** The leader's address as last learned (undefined until a call has needed it, or after a failure). */
  get leaderAddress(): string | undefined {
    return this.view.knownLeader;
  }

  /**
   * Arrays of consecutive records from `offset` on, following the tail. When the stream breaks (its
   * member died, drained, stopped answering or was removed) it is opened again on another member
   * from the offset after the last record delivered. Reopening has the call deadline, counted from
   * the break; a stream that delivered records or stayed open past the longest backoff had worked,
   * so its break starts the count (and the backoff) afresh.
   */
  async *followBatches(offset: bigint, options: ReadOptions, signal: AbortSignal | undefined): AsyncGenerator<ConsumedRecord[]> {
    // A function, not a test of the field: after one test TypeScript takes `aborted` as still false.
    const stopped = (): boolean => signal?.aborted === true;
    let next = offset;
    let brokenAt = Date.now();
    for (let attempt = 0; ; attempt++) {
      let address: string | undefined;
      let openedAt: number | undefined;
      const from = next;
      try {
        address = await untilAborted(this.address(this.readRoute, brokenAt + this.callTimeoutMs), signal);
        const channel = this.channel(address);
        await channel.connect(brokenAt + this.callTimeoutMs, this.connectTimeoutMs, signal);
        openedAt = Date.now();
        const request = { offset: next, ...readBounds(options) };
        for await (const batch of channel.stream<wire.ConsumeBatchStreamResponse>("consumeBatchStream", request, signal)) {
          if (batch.records.length === 0) continue;
          if (batch.records[0]!.offset !== next) throw new RpcError(`${address} sent offset ${batch.records[0]!.offset} where ${next} was due`, RpcCode.internal);
          next = batch.nextOffset;
          yield batch.records;
        }
        if (stopped()) return;
        throw new RpcError(`${address} ended a following stream`, RpcCode.unavailable);
      } catch (error) {
        if (stopped()) return;
        if (this.closing.signal.aborted) throw clientClosed();
        // A node of another cluster refusing the opened stream is passed over as a failed member is.
        if (!transient(error) && !(openedAt !== undefined && error instanceof ClusterMismatchError)) throw error;
        if (address !== undefined) this.view.failed(address, error instanceof ConnectTimeoutError);
        if (next !== from || (openedAt !== undefined && Date.now() - openedAt >= this.backoffMaxMs)) {
          attempt = 0;
          brokenAt = Date.now();
        }
        try {
          await this.pause(attempt, brokenAt + this.callTimeoutMs, error, signal);
        } catch (paused) {
          if (stopped()) return;
          throw paused;
        }
      }
    }
  }

  /** Cancels the calls under way (each rejects with LogClosedError, as any call made after) and closes every connection. */
  close(): void {
    this.closing.abort(clientClosed());
    for (const channel of this.channels.values()) channel.close();
    this.channels.clear();
  }

  private readCall<T>(method: string, request: object, signal?: AbortSignal): Promise<T> {
    return this.call<T>(this.readRoute, "read", this.delivery, (channel, deadline) => channel.unary("log", method, request, deadline, signal), signal);
  }

  /**
   * Runs `run` on the member `route` names, trying again (another member, or the leader learned
   * again) while the failure is retryable for `kind` and the deadline allows. A read beyond a
   * follower's end is asked of the leader at once: the follower may not have learned the commit yet.
   * Once `signal` aborts (it cancels `run`'s call too), nothing more is tried and the call rejects
   * with its reason.
   */
  private async call<T>(route: Route, kind: CallKind, delivery: ProduceDelivery, run: (channel: NodeChannel, deadline: number) => Promise<T>, signal?: AbortSignal): Promise<T> {
    const deadline = Date.now() + this.callTimeoutMs;
    let to = route;
    // Whether an earlier attempt of this write may have been appended (it reached a node that did not refuse it).
    let outcomeUnknown = false;
    // Why the last attempt failed, as the caller would be told.
    let earlier: unknown;
    for (let attempt = 0; ; attempt++) {
      let address: string | undefined;
      let sent = false;
      try {
        address = await untilAborted(this.address(to, deadline), signal);
        const channel = this.channel(address);
        // Every call waits for its connection first, within the connect bound: a member that takes
        // connections and never answers them (paused) is then given up for another before its call
        // is sent, and for a write a failure to connect proves nothing was sent.
        await channel.connect(deadline, this.connectTimeoutMs, signal);
        sent = true;
        return await run(channel, deadline);
      } catch (error) {
        if (signal?.aborted === true) throw signal.reason;
        if (this.closing.signal.aborted) throw clientClosed();
        if (sent && error instanceof ClusterMismatchError) {
          // A node of another cluster at a member's address refused the call before doing anything:
          // the cluster is asked again, which passes that node over (the view's own verdict is final).
          this.view.failed(address!, false);
          await this.pause(attempt, deadline, kind === "write" ? writeFailure(error, outcomeUnknown, sent) : error, signal);
          continue;
        }
        if (error instanceof OffsetOutOfRangeError && to === "reader" && address !== this.view.knownLeader) {
          to = "leader";
          continue;
        }
        // An attempt the deadline ended before anything was sent learned nothing new: the caller is told why the attempt before it failed.
        if (!sent && earlier !== undefined && pastDeadline(error)) throw earlier;
        // What the caller is told if this is the last attempt: for a write, whether its records may be in the log.
        const giveUp = kind === "write" ? writeFailure(error, outcomeUnknown, sent) : error;
        if (!retryable(kind, error, delivery, outcomeUnknown)) throw giveUp;
        // Only a call that was sent can have been appended: a member that knows no leader was not asked to append.
        if (kind === "write" && sent && mayHaveAppended(error)) outcomeUnknown = true;
        earlier = giveUp;
        if (address !== undefined) this.view.failed(address, error instanceof ConnectTimeoutError);
        await this.pause(attempt, deadline, giveUp, signal);
      }
    }
  }

  /** Waits before attempt `attempt + 1`; throws `error` instead if that would pass `deadline`, an AbortError once `signal` aborts, and LogClosedError once the client closes. */
  private async pause(attempt: number, deadline: number, error: unknown, signal?: AbortSignal): Promise<void> {
    const waitMs = this.backoff.delayMs(attempt);
    if (Date.now() + waitMs >= deadline) throw error;
    try {
      await delay(waitMs, undefined, { signal: signal === undefined ? this.closing.signal : AbortSignal.any([signal, this.closing.signal]) });
    } catch (aborted) {
      if (this.closing.signal.aborted) throw clientClosed();
      throw aborted;
    }
  }

  private address(route: Route, deadline: number): Promise<string> {
    return route === "leader" ? this.view.leaderAddress(deadline) : this.view.readerAddress(deadline);
  }

  /**
   * GetServers of one member; NotConnectedError when the connection itself failed, ConnectTimeoutError
   * when it was not completed within the connect bound (a refused one goes on to the call, which
   * fails at once with the reason).
   */
  private async askServers(address: string, deadline: number): Promise<wire.GetServersResponse> {
    const channel = this.channel(address);
    try {
      await channel.connect(deadline, this.connectTimeoutMs).catch((error: unknown) => {
        if (error instanceof ConnectTimeoutError) throw error;
      });
      return await channel.unary<wire.GetServersResponse>("log", "getServers", {}, deadline);
    } catch (error) {
      this.view.rest(address);
      // Out of time is said as such, even on a channel that cannot connect: the call is over, not the member unreachable.
      throw channel.unreachable && !pastDeadline(error) ? new NotConnectedError((error as Error).message) : error;
    }
  }

  private channel(address: string): NodeChannel {
    if (this.closing.signal.aborted) throw clientClosed();
    let channel = this.channels.get(address);
    if (channel === undefined) {
      channel = new NodeChannel(address, this.channelOptions);
      this.channels.set(address, channel);
    }
    return channel;
  }
}
