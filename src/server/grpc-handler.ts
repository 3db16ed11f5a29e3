// The gRPC protocol (binary protobuf over HTTP/2) served directly on Node's HTTP/2 streams. It is the
// hot path of the server: bench/server-frameworks.ts measured grpc-js and connect-node at 0.6-1 ms
// of server CPU per unary call and ≈ 20-27 µs per stream message, with protobuf-es reflection
// capping batch reads near 100k records/s. Serving the protocol here lets the server write many
// answers per HTTP/2 write, encode record batches with the hand-written codecs of src/wire, pause
// a stream by HTTP/2 flow control, and check message sizes before buffering a byte of the body.
// Every other protocol (Connect, gRPC-Web, gRPC with JSON) goes through connect-node's router,
// which calls the same service handlers.
//
// Protocol: https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md. Messages are
// [1 byte compressed flag][4 bytes big-endian length][message]; only the identity encoding is
// accepted (no client of ours compresses; gzip costs more CPU than loopback bandwidth).
import { create, fromBinary, isMessage, toBinary, type DescMessage, type DescMethod, type DescService } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { constants, type Http2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders, type ServerHttp2Stream } from "node:http2";
import { setImmediate as nextTurn } from "node:timers/promises";
import { BatchTooLargeError, RecordTooLargeError } from "../errors.ts";
import { decodeProduceBatchRequest, decodeProduceRequest, encodeConsumeResponse, encodeProduceResponse, encodeRecordBatch } from "../wire/record-codec.ts";
import { CLUSTER_ID_HEADER, clusterRefusal } from "../wire/cluster-id.ts";
import type { NodeMetrics } from "../observability/node-metrics.ts";
import type { MethodMetrics } from "../observability/rpc-metrics.ts";
import { rejectionReasonOf, type CallAuthorizer, type CallCredentials } from "./call-authorizer.ts";
import type { CallContext } from "./call-context.ts";
import { certificatePrincipalOf } from "./connection-identity.ts";
import { MessageReader, RequestQueue } from "./grpc-messages.ts";
import type { Logger } from "./logger.ts";
import type { ArrivingRequest, RequestDeadlines } from "./request-deadlines.ts";
import { isUnexpected, toConnectError } from "./status.ts";

const HEADER_BYTES = 5;
/** Answers written in one event-loop turn are sent together, up to this many bytes at a time. */
const COALESCE_BYTES_MAX = 64 * 1024;
/**
 * The least answer budget a call gets, however many share its connection: a turn's worth, so that a
 * call waiting for the network has always written (and been refused) more than the stream's
 * high-water mark, and is woken by "drain".
 */
const CALL_BYTES_IN_FLIGHT_MIN = COALESCE_BYTES_MAX;

type Handler = (input: unknown, context: CallContext) => unknown;

/**
 * The reason of every call its client cancelled or reset: one instance, because building an error
 * (its stack trace) is most of what a reset stream costs the server under a rapid reset.
 */
const CANCELLED = new ConnectError("the client cancelled the call", Code.Canceled);

interface Route {
  readonly method: DescMethod;
  readonly handler: Handler;
  readonly decode: (bytes: Uint8Array) => unknown;
  /** Encodes an answer leaving `HEADER_BYTES` free at the start for the gRPC message header. */
  readonly encode: (message: unknown) => Buffer;
  /** The refusal of a request message over messageBytesMax, typed by what the method carries. */
  readonly tooLarge: (message: string) => Error;
  readonly metrics: MethodMetrics | undefined;
}

export interface GrpcHandlerOptions {
  readonly messageBytesMax: number;
  readonly streamBytesInFlightMax: number;
  /** Answer bytes all the calls of one connection may hold waiting for the network, shared among them. */
  readonly connectionBytesInFlightMax: number;
  readonly logger: Logger;
  /** Checks every call before its handler runs (the same check as the Connect router's). */
  readonly authorizer: CallAuthorizer;
  /** This node's cluster id, against which a call that names one is checked (undefined: none known, nothing checked). */
  readonly clusterId: () => string | undefined;
  /** Counts and times every call of a known method, and counts refusals. */
  readonly metrics?: NodeMetrics;
  /** Ends a call whose one request has not arrived whole in time (limits.requestTimeoutMs). */
  readonly requestDeadlines: RequestDeadlines;
}

/** The calls in progress on one HTTP/2 connection, which share its answer budget. */
interface ConnectionShare {
  calls: number;
}

/** True for the content types this handler serves (everything else goes to the Connect router). */
export function isBinaryGrpc(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  if (contentType === "application/grpc" || contentType === "application/grpc+proto") return true;
  const type = contentType.split(";", 1)[0]!.trim().toLowerCase();
  return type === "application/grpc" || type === "application/grpc+proto";
}

/** Encoders that are faster than reflection for the messages that carry records. */
const fastEncoders = new Map<string, (message: never, prefixBytes: number) => Buffer>([
  ["log.v1.ProduceResponse", encodeProduceResponse],
  ["log.v1.ConsumeResponse", encodeConsumeResponse],
  ["log.v1.ConsumeBatchResponse", encodeRecordBatch],
  ["log.v1.ConsumeBatchStreamResponse", encodeRecordBatch],
]);

function reflectionEncoder(schema: DescMessage): (message: unknown) => Buffer {
  return (message) => {
    const body = toBinary(schema, isMessage(message, schema) ? message : create(schema, message as never));
    const buffer = Buffer.allocUnsafe(HEADER_BYTES + body.length);
    buffer.set(body, HEADER_BYTES);
    return buffer;
  };
}

/** Decoders that are faster than reflection for the messages that carry records. */
const fastDecoders = new Map<string, (bytes: Uint8Array) => unknown>([
  ["log.v1.ProduceRequest", decodeProduceRequest],
  ["log.v1.ProduceBatchRequest", decodeProduceBatchRequest],
]);

function decoderOf(schema: DescMessage): (bytes: Uint8Array) => unknown {
  const decode = fastDecoders.get(schema.typeName) ?? ((bytes: Uint8Array) => fromBinary(schema, bytes));
  return (bytes) => {
    try {
      return decode(bytes);
    } catch (error) {
      throw new ConnectError(`malformed ${schema.typeName}: ${(error as Error).message}`, Code.InvalidArgument);
    }
  };
}

/** The longest a Node timer waits; a longer delay fires at once (with a TimeoutOverflowWarning). */
const TIMER_MS_MAX = 2 ** 31 - 1;

/**
 * Parses a grpc-timeout header ("100m", "5S"); undefined when absent or longer than a timer can wait
 * (up to 99,999,999 hours may be sent; beyond 24 days is no deadline in practice), null when malformed.
 */
function parseTimeoutMs(value: string | string[] | undefined): number | undefined | null {
  if (value === undefined) return undefined;
  if (typeof value !== "string") return null;
  const match = /^(\d{1,8})([HMSmun])$/.exec(value);
  if (match === null) return null;
  const unitMs = { H: 3_600_000, M: 60_000, S: 1000, m: 1, u: 0.001, n: 0.000001 }[match[2] as "H"];
  const timeoutMs = Number(match[1]) * unitMs;
  return timeoutMs > TIMER_MS_MAX ? undefined : timeoutMs;
}

export class GrpcHandler {
  private readonly routes = new Map<string, Route>();
  private readonly calls = new Set<GrpcCall>();
  private readonly shares = new WeakMap<Http2Session, ConnectionShare>();

  constructor(private readonly options: GrpcHandlerOptions) {}

  /** Serves `handlers` (one function per method, by localName) for `service`. */
  addService(service: DescService, handlers: object): void {
    for (const method of service.methods) {
      const handler = (handlers as Record<string, Handler | undefined>)[method.localName];
      if (handler === undefined) continue;
      const fast = fastEncoders.get(method.output.typeName);
      const path = `/${service.typeName}/${method.name}`;
      this.routes.set(path, {
        method,
        metrics: this.options.metrics?.rpc.method(path),
        handler: handler.bind(handlers),
        decode: decoderOf(method.input),
        encode: fast === undefined ? reflectionEncoder(method.output) : (message) => fast(message as never, HEADER_BYTES),
        tooLarge: oversizedMessageError(method),
      });
    }
  }

  /** Whether a call to `path` sends one request (unary or server-streaming), or is unknown: its request is held to the request timeout. */
  sendsOneRequest(path: string | undefined): boolean {
    const kind = this.routes.get(path ?? "")?.method.methodKind;
    return kind !== "client_streaming" && kind !== "bidi_streaming";
  }

  /** Calls in progress. */
  get size(): number {
    return this.calls.size;
  }

  /** Answer bytes written by calls in progress and not yet taken by HTTP/2 (bounded per call by flow control). */
  get bytesQueued(): number {
    let bytes = 0;
    for (const call of this.calls) bytes += call.bytesQueued;
    return bytes;
  }

  /** Serves one stream; resolves when its call has ended (its handler has returned or thrown). */
  handle(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): Promise<void> {
    const route = this.routes.get(headers[":path"] ?? "");
    const encoding = headers["grpc-encoding"];
    let refusal: ConnectError | undefined;
    if (headers[":method"] !== "POST") refusal = new ConnectError("gRPC requires POST", Code.Unimplemented);
    else if (route === undefined) refusal = new ConnectError(`unknown method ${headers[":path"]}`, Code.Unimplemented);
    else if (encoding !== undefined && encoding !== "identity") refusal = new ConnectError(`unsupported grpc-encoding ${String(encoding)}`, Code.Unimplemented);
    // A deadline the client meant but the server cannot read would leave the call without one.
    const timeoutMs = parseTimeoutMs(headers["grpc-timeout"]);
    if (timeoutMs === null) refusal ??= new ConnectError(`malformed grpc-timeout ${JSON.stringify(String(headers["grpc-timeout"]).slice(0, 20))}: 1 to 8 digits and a unit (H, M, S, m, u, n)`, Code.InvalidArgument);
    const credentials = { certificatePrincipal: certificatePrincipalOf(stream.session?.socket), authorization: headers.authorization };
    const authorized = refusal === undefined ? this.authorize(headers[":path"]!, credentials) : undefined;
    refusal ??= authorized?.refusal;
    refusal ??= this.checkCluster(headers);
    if (refusal !== undefined) {
      route?.metrics?.refused(refusal.code);
      sendTrailersOnly(stream, refusal);
      return Promise.resolve();
    }
    const share = this.shareOf(stream.session);
    const call = new GrpcCall(stream, headers, route!, timeoutMs ?? undefined, this.options, share, this.calls, authorized?.principal);
    this.calls.add(call);
    share.calls++;
    if (route!.method.methodKind === "unary") return call.run();
    // A stream lasts: taking its permission away ends it.
    const unwatch = this.options.authorizer.watch(headers[":path"]!, credentials, (refusal) => call.abort(toConnectError(refusal)));
    return call.run().finally(unwatch);
  }

  /** The principal a call to `path` with `credentials` is made as, or the authorizer's refusal of it. */
  private authorize(path: string, credentials: CallCredentials): { readonly principal?: string | undefined; readonly refusal?: ConnectError } {
    try {
      return { principal: this.options.authorizer.authorize(path, credentials) };
    } catch (error) {
      this.options.metrics?.rejected(rejectionReasonOf(error));
      return { refusal: toConnectError(error) };
    }
  }

  /** The refusal of a call that names another cluster than this node's (src/wire/cluster-id.ts). */
  private checkCluster(headers: IncomingHttpHeaders): ConnectError | undefined {
    const named = headers[CLUSTER_ID_HEADER];
    if (named === undefined) return undefined;
    const refusal = clusterRefusal(String(named), this.options.clusterId());
    return refusal === undefined ? undefined : toConnectError(refusal);
  }

  private shareOf(session: Http2Session | undefined): ConnectionShare {
    if (session === undefined) return { calls: 0 };
    let share = this.shares.get(session);
    if (share === undefined) {
      share = { calls: 0 };
      this.shares.set(session, share);
    }
    return share;
  }

  /** Aborts every call in progress with `reason` (their handlers end, and their streams with a status). */
  abortAll(reason: ConnectError): void {
    for (const call of this.calls) call.abort(reason);
  }
}

/**
 * grpc-message encoding: UTF-8, with every byte outside printable ASCII (0x20-0x7E) and "%" itself
 * written as %XX. (encodeURIComponent escapes more, which clients that use decodeURI keep as is.)
 */
function percentEncode(message: string): string {
  let plain = true;
  for (let i = 0; i < message.length && plain; i++) {
    const code = message.charCodeAt(i);
    plain = code >= 0x20 && code <= 0x7e && code !== 0x25;
  }
  if (plain) return message;
  let encoded = "";
  for (const byte of Buffer.from(message, "utf8")) {
    encoded += byte >= 0x20 && byte <= 0x7e && byte !== 0x25 ? String.fromCharCode(byte) : `%${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return encoded;
}

/** The trailers of every call that succeeds (HTTP/2 copies headers it is given, so one object serves all). */
const OK_TRAILERS: OutgoingHttpHeaders = { "grpc-status": "0" };
const RESPONSE_HEADERS: OutgoingHttpHeaders = { ":status": 200, "content-type": "application/grpc+proto", "grpc-accept-encoding": "identity" };

function statusTrailers(error: ConnectError | undefined): OutgoingHttpHeaders {
  if (error === undefined) return OK_TRAILERS;
  const trailers: OutgoingHttpHeaders = { "grpc-status": String(error.code), "grpc-message": percentEncode(error.rawMessage) };
  error.metadata.forEach((value, key) => {
    if (!key.startsWith("grpc-") && !key.startsWith(":")) trailers[key] = value;
  });
  return trailers;
}

/**
 * Answers with the status alone. If the client is still sending, the stream is then reset with
 * NO_ERROR, which HTTP/2 defines as "the answer is complete, stop sending" (RFC 9113 §8.1).
 */
export function sendTrailersOnly(stream: ServerHttp2Stream, error: ConnectError): void {
  if (stream.closed || stream.headersSent) return;
  stream.respond({ ...RESPONSE_HEADERS, ...statusTrailers(error) }, { endStream: true });
  if (!stream.readableEnded) stream.close(constants.NGHTTP2_NO_ERROR);
}

const WAIT_FOR_TRAILERS = { waitForTrailers: true };

function ignoreError(): void {}

/** Sends a stream's status when HTTP/2 asks for it ("wantTrailers"; `this` is the stream). */
function sendOkTrailers(this: ServerHttp2Stream): void {
  this.sendTrailers(OK_TRAILERS);
}

/**
 * One RPC on one HTTP/2 stream, from its headers to its trailers. Its AbortSignal is made only when
 * a handler asks for it (a unary Produce never does): the call's own waits are told of an abort
 * directly, which costs a unary call no AbortController, no AbortSignal and no listeners on them.
 */
class GrpcCall implements CallContext, ArrivingRequest {
  private controller: AbortController | undefined;
  /** Why the call was aborted, once it is. */
  private abortReason: ConnectError | undefined;
  /** The wait for requests in progress (readOne's or readMany's), failed by an abort. */
  private failRequests: ((reason: ConnectError) => void) | undefined;
  /** The wait for the network in progress (drained's), ended by an abort. */
  private wakeWriter: (() => void) | undefined;
  private readonly reader: MessageReader;
  private timer: NodeJS.Timeout | undefined;
  /** Answers written this turn and not yet handed to the stream (less than COALESCE_BYTES_MAX). */
  private queued: Buffer[] = [];
  private queuedBytes = 0;
  /** Answer bytes written since the call last let the event loop turn. */
  private bytesThisTurn = 0;
  private finished = false;
  readonly startedMs = performance.now();
  /** When the call's deadline passes (performance.now() time), if it has one. */
  private readonly deadlineMs: number | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly route: Route,
    timeoutMs: number | undefined,
    private readonly options: GrpcHandlerOptions,
    private readonly share: ConnectionShare,
    /** The calls in progress, which this call leaves when it ends. */
    private readonly calls: Set<GrpcCall>,
    /** Who the authorizer says is calling (undefined: anonymous, or no ACL). */
    readonly principal: string | undefined,
  ) {
    this.reader = new MessageReader(options.messageBytesMax, route.tooLarge);
    this.deadlineMs = timeoutMs === undefined ? undefined : this.startedMs + timeoutMs;
    if (timeoutMs !== undefined) {
      this.timer = setTimeout(() => this.abort(new ConnectError("deadline exceeded", Code.DeadlineExceeded)), timeoutMs);
    }
    stream.on("error", ignoreError); // a reset stream ends the call through "aborted" or "close"
    // A reset is "aborted" as soon as it is read; "close" comes only once the stream's input has been
    // drained, and a handler that ran until then would answer into a stream that is gone. A stream
    // reset in the same read as its request is already closed when it gets here.
    const cancelled = (): void => {
      if (!this.finished) this.abort(CANCELLED);
    };
    stream.on("aborted", cancelled); // each is emitted once; "on" spares a once-wrapper per call
    stream.on("close", cancelled);
    if (stream.closed) cancelled();
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.abortReason !== undefined) this.controller.abort(this.abortReason);
    }
    return this.controller.signal;
  }

  timeoutMs(): number | undefined {
    return this.deadlineMs === undefined ? undefined : Math.max(0, this.deadlineMs - performance.now());
  }

  get requestHeader(): { get(name: string): string | null } {
    return {
      get: (name) => {
        const value = this.headers[name.toLowerCase()];
        return typeof value === "string" ? value : null;
      },
    };
  }

  get bytesQueued(): number {
    return this.stream.writableLength + this.queuedBytes;
  }

  abort(reason: ConnectError): void {
    if (this.abortReason !== undefined) return;
    this.abortReason = reason;
    this.controller?.abort(reason);
    this.failRequests?.(reason);
    this.wakeWriter?.();
  }

  requestTimedOut(timeoutMs: number): void {
    this.abort(new ConnectError(`the request did not arrive whole within ${timeoutMs} ms (limits.requestTimeoutMs)`, Code.DeadlineExceeded));
  }

  private throwIfAborted(): void {
    if (this.abortReason !== undefined) throw this.abortReason;
  }

  async run(): Promise<void> {
    let failure: ConnectError | undefined;
    let answer: Buffer | undefined;
    try {
      this.throwIfAborted();
      const kind = this.route.method.methodKind;
      const input = kind === "unary" || kind === "server_streaming" ? await this.readOne() : this.readMany();
      const output = this.route.handler(input, this);
      // An answer the handler produced is sent even if the call was aborted meanwhile (by shutdown,
      // say): a Produce that reached the disk must not be reported as failed, or a retry would
      // append it twice. Handlers that wait end with the abort's reason by themselves.
      if (kind === "unary" || kind === "client_streaming") {
        answer = this.frame(this.route.encode(await output));
      } else {
        for await (const message of output as AsyncIterable<unknown>) await this.writeWithBackpressure(this.route.encode(message));
      }
    } catch (error) {
      failure = toConnectError(error);
      if (isUnexpected(failure)) this.options.logger.error("call failed", { method: this.route.method.name, error: failure.cause ?? failure });
    } finally {
      clearTimeout(this.timer);
      this.options.requestDeadlines.arrived(this);
      this.finish(failure, answer);
      this.route.metrics?.ended(failure?.code, (performance.now() - this.startedMs) / 1000);
      this.calls.delete(this);
      this.share.calls--;
    }
  }

  /** The single request of a unary or server-streaming call, once the client has sent all of it. */
  private readOne(): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const messages: Uint8Array[] = [];
      this.failRequests = reject;
      this.options.requestDeadlines.watch(this);
      this.stream.on("data", (chunk: Buffer) => {
        try {
          this.reader.push(chunk, (message) => messages.push(message));
        } catch (error) {
          this.stream.pause();
          reject(error);
        }
      });
      this.stream.once("end", () => {
        this.failRequests = undefined;
        this.options.requestDeadlines.arrived(this);
        try {
          this.reader.end();
          if (messages.length !== 1) throw new ConnectError(`expected one request message, got ${messages.length}`, Code.InvalidArgument);
          resolve(this.route.decode(messages[0]!));
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  /** The requests of a client- or bidi-streaming call, read as the handler asks for them. */
  private readMany(): AsyncIterable<unknown> {
    const queue = new RequestQueue<unknown>(this.options.streamBytesInFlightMax, {
      pause: () => this.stream.pause(),
      resume: () => this.stream.resume(),
    });
    this.failRequests = (reason) => queue.fail(reason);
    this.stream.on("data", (chunk: Buffer) => {
      try {
        this.reader.push(chunk, (message) => queue.push(this.route.decode(message), message.length));
      } catch (error) {
        this.stream.pause();
        this.abort(toConnectError(error));
      }
    });
    this.stream.once("end", () => {
      try {
        this.reader.end();
        queue.end();
      } catch (error) {
        this.abort(toConnectError(error));
      }
    });
    return queue;
  }

  private respondOnce(): void {
    if (!this.stream.headersSent) this.stream.respond(RESPONSE_HEADERS, WAIT_FOR_TRAILERS);
  }

  /** Writes the gRPC message header into the room an encoder left for it; refuses an answer over the limit. */
  private frame(encoded: Buffer): Buffer {
    const bodyBytes = encoded.length - HEADER_BYTES;
    if (bodyBytes > this.options.messageBytesMax) {
      throw new ConnectError(`answer of ${bodyBytes} bytes exceeds messageBytesMax ${this.options.messageBytesMax}`, Code.ResourceExhausted);
    }
    encoded[0] = 0;
    encoded.writeUInt32BE(bodyBytes, 1);
    return encoded;
  }

  /** Queues one framed answer; answers queued in the same turn go out in one write. */
  private write(framed: Buffer): void {
    if (this.stream.closed) return;
    this.respondOnce();
    if (this.queued.length === 0) process.nextTick(() => this.flush());
    this.queued.push(framed);
    this.queuedBytes += framed.length;
    if (this.queuedBytes >= COALESCE_BYTES_MAX) this.flush();
  }

  /**
   * Writes the queued answers to the stream as one buffer: what waits for the network is then one
   * chunk per turn's worth of answers, not an object per answer (a client holding thousands of
   * streams of one-record answers unread cost the server a gigabyte of heap in them).
   */
  private flush(): void {
    if (this.queued.length === 0) return;
    const chunk = this.queued.length === 1 ? this.queued[0]! : Buffer.concat(this.queued, this.queuedBytes);
    this.queued = [];
    this.queuedBytes = 0;
    if (!this.stream.closed) this.stream.write(chunk);
  }

  /**
   * Writes, then waits while more than the stream's in-flight budget is waiting for the network, or
   * for the next event-loop turn once a turn's worth of answers is written. A stream never holds the
   * event loop for more than COALESCE_BYTES_MAX of answers, so a reset is read (and other clients are
   * served) between its writes. A call that was aborted (its stream reset or closed, its deadline
   * passed, the server shutting down) sends what its handler produced and asks for nothing more.
   */
  private async writeWithBackpressure(encoded: Buffer): Promise<void> {
    const framed = this.frame(encoded);
    this.write(framed);
    this.throwIfAborted();
    this.bytesThisTurn += framed.length;
    if (this.stream.writableLength + this.queuedBytes >= this.bytesInFlightMax()) {
      this.flush();
      await this.drained();
    } else if (this.bytesThisTurn >= COALESCE_BYTES_MAX) {
      await nextTurn();
    } else {
      return;
    }
    this.bytesThisTurn = 0;
    this.throwIfAborted();
  }

  /**
   * This call's answer budget: its stream's, or its part of its connection's when the connection has
   * many calls. A client that opens thousands of streams and reads none would otherwise have the
   * server encode and hold thousands of stream budgets (2,000 ConsumeStreams held 1.4 GB).
   */
  private bytesInFlightMax(): number {
    const { streamBytesInFlightMax, connectionBytesInFlightMax } = this.options;
    const shareBytes = Math.floor(connectionBytesInFlightMax / Math.max(1, this.share.calls));
    return Math.max(CALL_BYTES_IN_FLIGHT_MIN, Math.min(streamBytesInFlightMax, shareBytes));
  }

  /** Resolves when the stream drains, closes, or the call is aborted. */
  private drained(): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        this.stream.off("drain", done);
        this.stream.off("close", done);
        this.wakeWriter = undefined;
        resolve();
      };
      this.stream.on("drain", done);
      this.stream.on("close", done);
      this.wakeWriter = done;
    });
  }

  /**
   * Ends the response with its status: in trailers after answers (and `last`, a unary call's
   * answer, sent with the end of the stream), or trailers-only before any.
   */
  private finish(failure: ConnectError | undefined, last: Buffer | undefined): void {
    this.finished = true;
    const stream = this.stream;
    if (stream.closed || stream.destroyed) return;
    if (!stream.headersSent && failure !== undefined) {
      sendTrailersOnly(stream, failure);
      return;
    }
    this.discardInput();
    this.respondOnce();
    if (failure === undefined) {
      stream.on("wantTrailers", sendOkTrailers);
    } else {
      stream.once("wantTrailers", () => stream.sendTrailers(statusTrailers(failure)));
    }
    this.flush();
    if (last === undefined) stream.end();
    else stream.end(last);
  }

  /** After the answer, input the call no longer wants is read and dropped (the client stops on the status). */
  private discardInput(): void {
    if (this.stream.readableEnded) return;
    this.stream.removeAllListeners("data");
    this.stream.on("data", () => undefined);
    this.stream.resume();
  }
}

/**
 * The refusal of a request message over messageBytesMax, typed by what the method carries, so that
 * a client knows what to send smaller: a batch (BATCH_TOO_LARGE) or a record (RECORD_TOO_LARGE).
 */
function oversizedMessageError(method: DescMethod): (message: string) => Error {
  switch (method.input.typeName) {
    case "log.v1.ProduceBatchRequest":
      // A batch of one record that large is refused however it is batched: say so too.
      return (message) => toConnectError(new BatchTooLargeError(`${message}: send smaller batches (a single record this large is too large for any batch)`));
    case "log.v1.ProduceRequest":
      return (message) => toConnectError(new RecordTooLargeError(message));
    default:
      return (message) => new ConnectError(message, Code.ResourceExhausted);
  }
}
