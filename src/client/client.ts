// The TypeScript client for Node: one HTTP/2 connection (grpc-js) to a node, the record-carrying
// answers decoded by the hand-written codecs, and every failure raised as a catalogue error
// (src/errors.ts). For ingestion use producer() (batches), for reading consume() (an async
// iterator that can follow the tail). Browsers use the generated service with connect-web.
import * as grpc from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import { ClusterUnavailableError, InvalidArgumentError, NotLeaderError, OffsetOutOfRangeError } from "../errors.ts";
import { Health, HealthCheckResponse_ServingStatus } from "../gen/grpc/health/v1/health_pb.ts";
import { Admin } from "../gen/loghouse/admin/v1/admin_pb.ts";
import {
  Log,
  type ConsumeBatchResponse,
  type ConsumeBatchStreamResponse,
  type GetOffsetsResponse,
  type GetServersResponse,
  type OffsetForTimestampResponse,
  type Record as RecordMessage,
  type Server,
} from "../gen/log/v1/log_pb.ts";
import { errorFromGrpc } from "./errors.ts";
import { grpcServiceDefinition } from "./grpc-definition.ts";
import { Producer, type ProducerOptions } from "./producer.ts";

/** A record as read: value, offset, creation time (ms since the epoch), term and type. */
export type ConsumedRecord = RecordMessage;

/** TLS to the node: PEM contents, not paths. */
export interface ClientTlsOptions {
  /** The CA that signed the node's certificate (absent: the system's roots). */
  readonly ca?: Buffer;
  /** A client certificate and its key (mutual TLS): its CN is the caller's principal. */
  readonly cert?: Buffer;
  readonly key?: Buffer;
  /** Checks the node's certificate instead of matching the address's host name (a peer checks node ids); returns an Error to refuse. */
  readonly checkServerIdentity?: (hostname: string, certificate: PeerCertificate) => Error | undefined;
}

export interface ClientOptions {
  /** Extra grpc-js channel options. */
  readonly channelOptions?: grpc.ChannelOptions;
  /** Speak TLS (absent: plaintext, which a node serves on loopback only unless started --insecure). */
  readonly tls?: ClientTlsOptions;
  /** A bearer token (the node's --tokens file maps it to a principal), sent on every call. */
  readonly token?: string;
  /** Deadline for each unary call (produce, read, offsets, ...), in ms; streams that follow the tail have none. Default: no deadline. */
  readonly callTimeoutMs?: number;
}

export interface ReadOptions {
  /** Most records per answer (the server caps it). */
  readonly maxRecords?: number;
  /** Byte budget per answer (the server caps it). */
  readonly maxBytes?: number;
}

export interface ConsumeOptions extends ReadOptions {
  /** First offset, or "start" (the lowest retained) or "end" (only records appended from now). Default "start". */
  readonly from?: bigint | number | "start" | "end";
  /** Keep waiting for new records at the end of the log instead of stopping there. */
  readonly follow?: boolean;
  /** Stops the iteration (it then ends without an error). */
  readonly signal?: AbortSignal;
}

type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, value: unknown) => void) => grpc.ClientUnaryCall;

const WINDOW_BYTES = 8 * 1024 * 1024;
const MESSAGE_BYTES_MAX = 64 * 1024 * 1024;

/** Adds `authorization: Bearer TOKEN` to every call (an interceptor: call credentials would need TLS). */
function bearerToken(token: string): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set("authorization", `Bearer ${token}`);
        next(metadata, listener);
      },
    });
}

/** How many leaders an admin request follows (leadership may move while it is asked). */
const ADMIN_REDIRECTS_MAX = 3;

export class LoghouseClient {
  private readonly log: grpc.Client;
  private readonly health: grpc.Client;
  private readonly admin: grpc.Client;
  private readonly callTimeoutMs: number | undefined;

  /** `address` is host:port of any node (e.g. "127.0.0.1:8400"). */
  constructor(
    readonly address: string,
    private readonly options: ClientOptions = {},
  ) {
    const channelOptions: grpc.ChannelOptions = {
      "grpc-node.flow_control_window": WINDOW_BYTES,
      "grpc.max_receive_message_length": MESSAGE_BYTES_MAX,
      ...options.channelOptions,
    };
    // Checked before any channel is made, so that a refused option leaves nothing open.
    if ((options.tls?.cert === undefined) !== (options.tls?.key === undefined)) throw new InvalidArgumentError("a client certificate needs its key, and a key its certificate");
    if (options.callTimeoutMs !== undefined && !(Number.isSafeInteger(options.callTimeoutMs) && options.callTimeoutMs > 0)) {
      throw new InvalidArgumentError(`callTimeoutMs must be a positive integer, got ${options.callTimeoutMs}`);
    }
    const { tls } = options;
    const verify = tls?.checkServerIdentity === undefined ? {} : { checkServerIdentity: tls.checkServerIdentity };
    const credentials = tls === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null, verify);
    const clientOptions = { ...channelOptions, ...(options.token === undefined ? {} : { interceptors: [bearerToken(options.token)] }) };
    const LogClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(Log), "Log");
    const HealthClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(Health), "Health");
    const AdminClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(Admin), "Admin");
    this.log = new LogClient(address, credentials, clientOptions);
    this.health = new HealthClient(address, credentials, clientOptions);
    this.admin = new AdminClient(address, credentials, clientOptions);
    this.callTimeoutMs = options.callTimeoutMs;
  }

  /** Appends one record; resolves with its offset once it is durable. */
  async produce(value: Uint8Array): Promise<bigint> {
    const response = await this.unary<{ offset: bigint }>(this.log, "produce", { record: { value } });
    return response.offset;
  }

  /** Appends records with consecutive offsets in one message; resolves with the first once all are durable. */
  async produceBatch(values: readonly Uint8Array[]): Promise<bigint> {
    const response = await this.unary<{ firstOffset: bigint }>(this.log, "produceBatch", { values });
    return response.firstOffset;
  }

  /** A producer that batches records (see ProducerOptions). */
  producer(options: ProducerOptions = {}): Producer {
    return new Producer((values) => this.produceBatch(values), options);
  }

  /** The record at `offset`; OffsetOutOfRangeError outside the log. */
  async read(offset: bigint | number): Promise<ConsumedRecord> {
    const response = await this.unary<{ record: ConsumedRecord }>(this.log, "consume", { offset: BigInt(offset) });
    return response.record;
  }

  /** Records from `offset` on (a fetch); with maxWaitMs, waits that long for a record at the end of the log. */
  readBatch(offset: bigint | number, options: ReadOptions & { maxWaitMs?: number } = {}): Promise<ConsumeBatchResponse> {
    return this.unary(this.log, "consumeBatch", { offset: BigInt(offset), maxRecords: options.maxRecords ?? 0, maxBytes: options.maxBytes ?? 0, maxWaitMs: options.maxWaitMs ?? 0 });
  }

  /**
   * Records in offset order from `from`; with `follow`, never ends by itself (it waits at the end
   * of the log, costing nothing while idle) until `signal` aborts or the loop breaks.
   */
  async *consume(options: ConsumeOptions = {}): AsyncGenerator<ConsumedRecord> {
    for await (const records of this.consumeBatches(options)) yield* records;
  }

  /**
   * Like consume(), one array of consecutive records at a time, as they travel: the fast way to
   * read, since a loop over an array costs nothing per record, unlike an async iterator.
   */
  async *consumeBatches(options: ConsumeOptions = {}): AsyncGenerator<ConsumedRecord[]> {
    const signal = options.signal;
    let at = await this.startOffset(options.from ?? "start");
    if (options.follow !== true) {
      const end = (await this.offsets()).endOffset;
      if (at > end) throw new OffsetOutOfRangeError(at);
      while (at < end && signal?.aborted !== true) {
        const batch = await this.readBatch(at, options);
        yield batch.records;
        at = batch.nextOffset;
      }
      return;
    }
    for await (const batch of this.batchStream(at, options, signal)) yield batch.records;
  }

  private async *batchStream(offset: bigint, options: ReadOptions, signal: AbortSignal | undefined): AsyncGenerator<ConsumeBatchStreamResponse> {
    const request = { offset, maxRecords: options.maxRecords ?? 0, maxBytes: options.maxBytes ?? 0 };
    const call = (this.log as unknown as Record<string, (r: object) => grpc.ClientReadableStream<ConsumeBatchStreamResponse>>).consumeBatchStream!.call(this.log, request);
    const cancel = (): void => call.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      for await (const batch of call) yield batch;
    } catch (error) {
      if (signal?.aborted === true && (error as grpc.ServiceError).code === grpc.status.CANCELLED) return;
      throw errorFromGrpc(error);
    } finally {
      signal?.removeEventListener("abort", cancel);
      call.cancel();
    }
  }

  private async startOffset(from: bigint | number | "start" | "end"): Promise<bigint> {
    if (from === "start") return (await this.offsets()).lowestOffset;
    if (from === "end") return (await this.offsets()).endOffset;
    if ((typeof from === "number" && !Number.isSafeInteger(from)) || from < 0) throw new InvalidArgumentError(`from must be a non-negative integer, got ${from}`);
    return BigInt(from);
  }

  /** The range of offsets the log holds: [lowestOffset, endOffset). */
  offsets(): Promise<GetOffsetsResponse> {
    return this.unary(this.log, "getOffsets", {});
  }

  /** The first offset whose record was created at or after `timestampMs` (found: false with the end offset if none). */
  offsetForTimestamp(timestampMs: bigint | number): Promise<OffsetForTimestampResponse> {
    return this.unary(this.log, "offsetForTimestamp", { timestampMs: BigInt(timestampMs) });
  }

  async servers(): Promise<Server[]> {
    return (await this.unary<GetServersResponse>(this.log, "getServers", {})).servers;
  }

  /** The node's health status name ("SERVING", "NOT_SERVING", ...). */
  async healthStatus(service = ""): Promise<string> {
    const response = await this.unary<{ status: HealthCheckResponse_ServingStatus }>(this.health, "check", { service });
    return HealthCheckResponse_ServingStatus[response.status] ?? String(response.status);
  }

  /** Removes member `nodeId` from the node's cluster (asked of its leader); resolves once the change is committed. */
  async removeMember(nodeId: number): Promise<void> {
    await this.atLeader((client) => client.unary(client.admin, "removeMember", { nodeId: BigInt(nodeId) }));
  }

  /** Hands the cluster's leadership to voter `nodeId`; resolves once the old leader has stepped down. */
  async transferLeadership(nodeId: number): Promise<void> {
    await this.atLeader((client) => client.unary(client.admin, "transferLeadership", { nodeId: BigInt(nodeId) }));
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
          if (client !== this) client.close();
          client = new LoghouseClient(leader.rpcAddr, this.options);
        }
      }
    } finally {
      if (client !== this) client.close();
    }
  }

  close(): void {
    this.log.close();
    this.health.close();
    this.admin.close();
  }

  private unary<T>(client: grpc.Client, method: string, request: object): Promise<T> {
    const options: grpc.CallOptions = this.callTimeoutMs === undefined ? {} : { deadline: Date.now() + this.callTimeoutMs };
    return new Promise((resolve, reject) => {
      const call = (client as unknown as Record<string, UnaryMethod>)[method]!;
      call.call(client, request, new grpc.Metadata(), options, (error, value) => (error === null ? resolve(value as T) : reject(errorFromGrpc(error))));
    });
  }
}
