// The TypeScript client for Node: one HTTP/2 connection (grpc-js) to a node, the record-carrying
// answers decoded by the hand-written codecs, and every failure raised as a catalogue error
// (src/errors.ts). For ingestion use producer() (batches), for reading consume() (an async
// iterator that can follow the tail). Browsers use the generated service with connect-web.
import { ClusterUnavailableError, NotLeaderError } from "../errors.ts";
import { HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import type {
  ConsumeBatchResponse,
  ConsumeBatchStreamResponse,
  GetOffsetsResponse,
  GetServersResponse,
  OffsetForTimestampResponse,
  Server,
} from "../gen/log/v1/log_pb.ts";
import { consumeBatches, consumeRecords, type AbortOptions, type ConsumedRecord, type ConsumeOptions, type ReadOptions } from "./consume-loop.ts";
import { nodeAddress } from "./address-list.ts";
import { checkChannelOptions, clientClosed, NodeChannel, type ChannelOptions, type ServiceName } from "./node-channel.ts";
import { integerOption, TIMER_MS_MAX } from "./option-checks.ts";
import { Producer, type ProducerOptions } from "./producer.ts";
import { fetchRequest, readBounds, u64Argument } from "./read-requests.ts";
import { checkValue, checkValues } from "./record-values.ts";

export type { ClientTlsOptions } from "./node-channel.ts";
export type { AbortOptions, ConsumedRecord, ConsumeOptions, ReadOptions } from "./consume-loop.ts";

export interface ClientOptions extends ChannelOptions {
  /** Deadline for each unary call (produce, read, offsets, ...), in ms; streams that follow the tail have none. Default: no deadline. */
  readonly callTimeoutMs?: number;
}

/** How many leaders an admin request follows (leadership may move while it is asked). */
const ADMIN_REDIRECTS_MAX = 3;

/** One node's client: every call goes to the node at `address` (ClusterClient routes over a cluster). */
export class LoghouseClient {
  private readonly channel: NodeChannel;
  private readonly callTimeoutMs: number | undefined;
  /** Clients made to reach the leader for admin calls under way (atLeader), closed with this one. */
  private readonly redirects = new Set<LoghouseClient>();

  /** `address` is host:port of any node (e.g. "127.0.0.1:8400"). */
  constructor(
    readonly address: string,
    private readonly options: ClientOptions = {},
  ) {
    // Checked before the channel is made, so that a refused option leaves nothing open.
    checkChannelOptions(options);
    if (options.callTimeoutMs !== undefined) integerOption("callTimeoutMs", options.callTimeoutMs, 1, TIMER_MS_MAX);
    this.channel = new NodeChannel(nodeAddress(address), options);
    this.callTimeoutMs = options.callTimeoutMs;
  }

  /** Appends one record; resolves with its offset once it is durable. */
  async produce(value: Uint8Array): Promise<bigint> {
    checkValue(value);
    const response = await this.unary<{ offset: bigint }>("log", "produce", { record: { value } });
    return response.offset;
  }

  /** Appends records with consecutive offsets in one message; resolves with the first once all are durable. */
  async produceBatch(values: readonly Uint8Array[]): Promise<bigint> {
    checkValues(values);
    const response = await this.unary<{ firstOffset: bigint }>("log", "produceBatch", { values });
    return response.firstOffset;
  }

  /** A producer that batches records (see ProducerOptions). */
  producer(options: ProducerOptions = {}): Producer {
    return new Producer((values) => this.produceBatch(values), options);
  }

  /** The record at `offset`; OffsetOutOfRangeError outside the log. */
  async read(offset: bigint | number): Promise<ConsumedRecord> {
    const response = await this.unary<{ record: ConsumedRecord }>("log", "consume", { offset: u64Argument("offset", offset) });
    return response.record;
  }

  /** Records from `offset` on (a fetch); with maxWaitMs, waits that long for a record at the end of the log. */
  async readBatch(offset: bigint | number, options: ReadOptions & AbortOptions & { maxWaitMs?: number } = {}): Promise<ConsumeBatchResponse> {
    return this.unary("log", "consumeBatch", fetchRequest(offset, options), options.signal);
  }

  /**
   * Records in offset order from `from`; with `follow`, never ends by itself (it waits at the end
   * of the log, costing nothing while idle) until `signal` aborts or the loop breaks.
   */
  consume(options: ConsumeOptions = {}): AsyncGenerator<ConsumedRecord> {
    return consumeRecords(this, options);
  }

  /**
   * Like consume(), one array of consecutive records at a time, as they travel: the fast way to
   * read, since a loop over an array costs nothing per record, unlike an async iterator.
   */
  consumeBatches(options: ConsumeOptions = {}): AsyncGenerator<ConsumedRecord[]> {
    return consumeBatches(this, options);
  }

  /** Arrays of consecutive records from `offset` on, following the tail, until `signal` aborts. */
  async *followBatches(offset: bigint, options: ReadOptions, signal: AbortSignal | undefined): AsyncGenerator<ConsumedRecord[]> {
    const request = { offset, ...readBounds(options) };
    for await (const batch of this.channel.stream<ConsumeBatchStreamResponse>("consumeBatchStream", request, signal)) yield batch.records;
  }

  /** The range of offsets the log holds: [lowestOffset, endOffset). */
  offsets(options: AbortOptions = {}): Promise<GetOffsetsResponse> {
    return this.unary("log", "getOffsets", {}, options.signal);
  }

  /** The first offset whose record was created at or after `timestampMs` (found: false with the end offset if none). */
  async offsetForTimestamp(timestampMs: bigint | number): Promise<OffsetForTimestampResponse> {
    return this.unary("log", "offsetForTimestamp", { timestampMs: u64Argument("timestampMs", timestampMs) });
  }

  async servers(): Promise<Server[]> {
    return (await this.getServers()).servers;
  }

  /** GetServers as answered: the members, and the cluster's id ("" on a node alone, or a member that knows none). */
  getServers(): Promise<GetServersResponse> {
    return this.unary<GetServersResponse>("log", "getServers", {});
  }

  /** The node's health status name ("SERVING", "NOT_SERVING", ...). */
  async healthStatus(service = ""): Promise<string> {
    const response = await this.unary<{ status: HealthCheckResponse_ServingStatus }>("health", "check", { service });
    return HealthCheckResponse_ServingStatus[response.status] ?? String(response.status);
  }

  /** Removes `member` (its name, or its Raft id) from the node's cluster (asked of its leader); resolves once the change is committed. */
  async removeMember(member: string): Promise<void> {
    await this.atLeader((client) => client.unary("admin", "removeMember", { name: member }));
  }

  /** Hands the cluster's leadership to voter `member` (its name, or its Raft id); resolves once the old leader has stepped down. */
  async transferLeadership(member: string): Promise<void> {
    await this.atLeader((client) => client.unary("admin", "transferLeadership", { name: member }));
  }

  /** Runs `call` here, or (NotLeaderError) at the leader GetServers names, with the same options. */
  private async atLeader<T>(call: (client: LoghouseClient) => Promise<T>): Promise<T> {
    let client: LoghouseClient = this;
    try {
      for (let redirect = 0; ; redirect++) {
        try {
          return await call(client);
        } catch (error) {
          if (!(error instanceof NotLeaderError) || redirect >= ADMIN_REDIRECTS_MAX) throw error;
          const leader = (await client.servers()).find((server) => server.isLeader);
          if (leader === undefined) throw new ClusterUnavailableError("the cluster has no leader now; try again", { cause: error });
          this.closeRedirect(client);
          // Closed meanwhile: no client is made that close() would not reach.
          if (this.channel.isClosed) throw clientClosed();
          client = new LoghouseClient(leader.rpcAddr, this.options);
          this.redirects.add(client);
        }
      }
    } finally {
      this.closeRedirect(client);
    }
  }

  /** Closes `client` if atLeader made it. */
  private closeRedirect(client: LoghouseClient): void {
    if (client === this) return;
    client.close();
    this.redirects.delete(client);
  }

  /**
   * Cancels the calls under way (each rejects with LogClosedError: a produce among them may or may
   * not have been appended; close a producer first to have its records answered) and closes the
   * connection, and those made to reach the leader for an admin call. Every call after it rejects
   * with LogClosedError.
   */
  close(): void {
    this.channel.close();
    for (const client of this.redirects) client.close();
    this.redirects.clear();
  }

  private unary<T>(service: ServiceName, method: string, request: object, signal?: AbortSignal): Promise<T> {
    return this.channel.unary(service, method, request, this.callTimeoutMs === undefined ? undefined : Date.now() + this.callTimeoutMs, signal);
  }
}
