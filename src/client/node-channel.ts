// The connection to one node: one HTTP/2 channel (grpc-js) carrying the Log, Health and Admin
// services, with TLS and a bearer token when asked. It runs single calls against an absolute
// deadline, opens server streams, and can wait, for a bounded time, for the connection itself,
// which tells a call that never left this process from one that may have reached the node (see
// connect()).
import * as grpc from "@grpc/grpc-js";
import type { PeerCertificate } from "node:tls";
import { BufferPool } from "../buffer-pool.ts";
import { InvalidArgumentError, LogClosedError, LoghouseError, RpcCode, RpcError } from "../errors.ts";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { Admin } from "../gen/loghouse/admin/v1/admin_pb.ts";
import { Log } from "../gen/log/v1/log_pb.ts";
import { encodeProduceBatchRequest } from "../wire/record-codec.ts";
import { errorFromGrpc } from "./errors.ts";
import { grpcServiceDefinition } from "./grpc-definition.ts";
import { describe } from "./option-checks.ts";
import { untilAborted } from "./until-aborted.ts";

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

/** How a channel reaches a node. */
export interface ChannelOptions {
  /** Extra grpc-js channel options. */
  readonly channelOptions?: grpc.ChannelOptions;
  /** Speak TLS (absent: plaintext, which a node serves on loopback only unless started --insecure). */
  readonly tls?: ClientTlsOptions;
  /** A bearer token (the node's --tokens file maps it to a principal), sent on every call. */
  readonly token?: string;
  /** Headers added to every call, asked for as it starts (a node forwarding an append adds its trace context). */
  readonly callHeaders?: () => Readonly<Record<string, string>>;
}

/** The services a channel carries. */
export type ServiceName = "log" | "health" | "admin";

/** A connection attempt that failed before any call was sent on it (refused, reset, TLS refused, or not completed within the connect bound). */
export class NotConnectedError extends RpcError {
  constructor(message: string) {
    super(message, RpcCode.unavailable);
  }
}

/** A connection the node took and did not complete within the connect bound (paused, overwhelmed): nothing was sent. */
export class ConnectTimeoutError extends NotConnectedError {}

/** Whether a call failed because its deadline passed: every call of one client call shares that deadline, so none made after would get further. */
export function pastDeadline(error: unknown): boolean {
  return error instanceof LoghouseError && error.rpcCode === RpcCode.deadlineExceeded;
}

type UnaryMethod = (request: object, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, value: unknown) => void) => grpc.ClientUnaryCall;
type StreamMethod = (request: object) => grpc.ClientReadableStream<unknown>;

const WINDOW_BYTES = 8 * 1024 * 1024;
const MESSAGE_BYTES_MAX = 64 * 1024 * 1024;
// grpc-js waits up to two minutes between attempts to reach a node that was down; a client that
// moves between members wants a restarted node back within a second.
const RECONNECT_BACKOFF_MS_INITIAL = 100;
const RECONNECT_BACKOFF_MS_MAX = 1_000;
// While a call is open (a following stream above all), a ping unanswered for KEEPALIVE_TIMEOUT_MS
// closes the connection, so a node that stopped answering (paused, cut off) fails the call with
// UNAVAILABLE instead of holding it for good; the routing client then goes elsewhere.
const KEEPALIVE_TIME_MS = 5_000;
const KEEPALIVE_TIMEOUT_MS = 5_000;

/** Adds `headers()` to every call (an interceptor: call credentials, for the bearer token, would need TLS). */
function withHeaders(headers: () => Readonly<Record<string, string>>): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        for (const [name, value] of Object.entries(headers())) metadata.set(name, value);
        next(metadata, listener);
      },
    });
}

/** The interceptors that add the token and the call headers `options` ask for. */
function headerInterceptors({ token, callHeaders }: ChannelOptions): grpc.Interceptor[] {
  const bearer = { authorization: `Bearer ${token}` };
  return [...(token === undefined ? [] : [withHeaders(() => bearer)]), ...(callHeaders === undefined ? [] : [withHeaders(callHeaders)])];
}

/** Throws InvalidArgumentError for options that cannot make a channel (checked before any is made). */
export function checkChannelOptions(options: ChannelOptions): void {
  const { tls, token } = options;
  if ((tls?.cert === undefined) !== (tls?.key === undefined)) throw new InvalidArgumentError("a client certificate needs its key, and a key its certificate");
  for (const name of ["ca", "cert", "key"] as const) {
    const pem: unknown = tls?.[name];
    if (pem !== undefined && !Buffer.isBuffer(pem)) throw new InvalidArgumentError(`tls.${name} must be the PEM's contents as a Buffer (read the file first), got ${typeof pem === "string" ? "a string" : describe(pem)}`);
  }
  // A header value: printable ASCII (a token read from a file keeps its newline); the token itself is not shown.
  if (token !== undefined && (typeof token !== "string" || !/^[\x21-\x7e]+$/.test(token))) {
    throw new InvalidArgumentError("token must be a non-empty string of printable ASCII without spaces or line breaks (was it read from a file with its newline?)");
  }
}

/** What a call on a closed client fails with. */
export function clientClosed(): LogClosedError {
  return new LogClosedError("the client is closed");
}

export class NodeChannel {
  private readonly clients: Readonly<Record<ServiceName, grpc.Client>>;
  /** The calls open on the channel, cancelled when it closes. */
  private readonly open = new Set<{ cancel(): void }>();
  private closed = false;
  /**
   * Memory for encoded batch requests (a third of the client's CPU under bench:server's batch load
   * went to collecting them when each took new memory). A buffer is given back only once its call is
   * answered OK: grpc-js copies a message into its own frame before sending it, and the node answers
   * only after the whole message has arrived, so nothing reads it any more. A call that fails leaves
   * its buffer to the collector, whatever grpc-js still does with it.
   */
  private readonly requestBuffers = new BufferPool();

  /** Whether close() was called: every call fails with LogClosedError from then on. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** `address` is host:port of one node (e.g. "127.0.0.1:8400"). */
  constructor(
    readonly address: string,
    options: ChannelOptions,
  ) {
    checkChannelOptions(options);
    const { tls } = options;
    const verify = tls?.checkServerIdentity === undefined ? {} : { checkServerIdentity: tls.checkServerIdentity };
    const credentials = tls === undefined ? grpc.credentials.createInsecure() : grpc.credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null, verify);
    const clientOptions: grpc.ClientOptions = {
      "grpc-node.flow_control_window": WINDOW_BYTES,
      "grpc.max_receive_message_length": MESSAGE_BYTES_MAX,
      "grpc.initial_reconnect_backoff_ms": RECONNECT_BACKOFF_MS_INITIAL,
      "grpc.max_reconnect_backoff_ms": RECONNECT_BACKOFF_MS_MAX,
      "grpc.keepalive_time_ms": KEEPALIVE_TIME_MS,
      "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS,
      ...options.channelOptions,
      interceptors: headerInterceptors(options),
    };
    const LogClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(Log), "Log");
    const log = new LogClient(address, credentials, clientOptions);
    // The three services share one channel (one connection), as the node serves them on one port.
    const shared = { ...clientOptions, channelOverride: log.getChannel() };
    const HealthClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(Health), "Health");
    const AdminClient = grpc.makeGenericClientConstructor(grpcServiceDefinition(Admin), "Admin");
    this.clients = { log, health: new HealthClient(address, credentials, shared), admin: new AdminClient(address, credentials, shared) };
  }

  /**
   * Runs one call; `deadline` (ms since the epoch) bounds it, absent means none, and `signal` cancels
   * it (rejecting with the signal's reason). Failures are catalogue errors: LogClosedError once the
   * channel is closed, also for a call it cancelled by closing.
   */
  unary<T>(service: ServiceName, method: string, request: object, deadline: number | undefined, signal?: AbortSignal): Promise<T> {
    const client = this.clients[service];
    const options: grpc.CallOptions = deadline === undefined ? {} : { deadline };
    return new Promise((resolve, reject) => {
      if (signal?.aborted === true) return reject(signal.reason);
      if (this.closed) return reject(clientClosed());
      // A batch request is encoded here (unless its caller did), into memory used again once the call is answered OK.
      const encoded = service === "log" && method === "produceBatch" && !Buffer.isBuffer(request) ? encodeProduceBatchRequest(request, this.requestBuffers.take) : undefined;
      const start = (client as unknown as Record<string, UnaryMethod>)[method]!;
      const call = start.call(client, encoded ?? request, new grpc.Metadata(), options, (error, value) => {
        this.open.delete(call);
        signal?.removeEventListener("abort", cancel);
        if (error === null) {
          if (encoded !== undefined) this.requestBuffers.give(encoded);
          resolve(value as T);
        } else {
          reject(signal?.aborted === true ? signal.reason : this.closed ? clientClosed() : errorFromGrpc(error));
        }
      });
      this.open.add(call);
      const cancel = (): void => call.cancel();
      signal?.addEventListener("abort", cancel, { once: true });
    });
  }

  /**
   * The messages of a Log server stream (no deadline: it may follow the tail for good). It ends
   * quietly once `signal` aborts; any other failure is thrown as a catalogue error (LogClosedError
   * once the channel is closed).
   */
  async *stream<T>(method: string, request: object, signal: AbortSignal | undefined): AsyncGenerator<T> {
    if (this.closed) throw clientClosed();
    const log = this.clients.log;
    const call = (log as unknown as Record<string, StreamMethod>)[method]!.call(log, request);
    this.open.add(call);
    const cancel = (): void => call.cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    // Aborted before the stream opened (while its member was found, say): the event has passed.
    if (signal?.aborted === true) cancel();
    try {
      for await (const message of call) yield message as T;
    } catch (error) {
      const typed = errorFromGrpc(error);
      if (signal?.aborted === true && typed.rpcCode === RpcCode.cancelled) return;
      throw this.closed ? clientClosed() : typed;
    } finally {
      this.open.delete(call);
      signal?.removeEventListener("abort", cancel);
      call.cancel();
    }
  }

  /**
   * Resolves once the connection is up (the node's HTTP/2 settings received). Rejects with
   * NotConnectedError as soon as an attempt to connect fails, or with ConnectTimeoutError when none
   * has succeeded within `timeoutMs` (a paused or overwhelmed node takes the TCP connection in its
   * kernel and never answers it: grpc-js itself would wait for good); nothing was sent either way.
   * Rejects with DEADLINE_EXCEEDED at `deadline` when that comes first, and with `signal`'s reason as
   * soon as it aborts. A call started right after may still meet a connection that drops.
   */
  connect(deadline: number, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.closed) return Promise.reject(clientClosed());
    const channel = this.clients.log.getChannel();
    const giveUpAt = Math.min(deadline, Date.now() + timeoutMs);
    const connecting = new Promise<void>((resolve, reject) => {
      const check = (): void => {
        // Closed meanwhile (close() wakes the watchers): asking for the state would connect again.
        if (this.closed) return reject(clientClosed());
        const state = channel.getConnectivityState(true);
        if (state === grpc.connectivityState.READY) return resolve();
        if (state === grpc.connectivityState.TRANSIENT_FAILURE || state === grpc.connectivityState.SHUTDOWN) return reject(new NotConnectedError(`cannot connect to ${this.address}`));
        channel.watchConnectivityState(state, giveUpAt, (error) => {
          if (error === undefined) return check();
          if (giveUpAt < deadline) return reject(new ConnectTimeoutError(`${this.address} did not complete a connection within ${timeoutMs} ms`));
          reject(new RpcError(`${this.address} did not answer within the deadline`, RpcCode.deadlineExceeded));
        });
      };
      check();
    });
    return untilAborted(connecting, signal);
  }

  /** Whether the last attempt to connect failed (and no connection has been made since). */
  get unreachable(): boolean {
    return this.clients.log.getChannel().getConnectivityState(false) === grpc.connectivityState.TRANSIENT_FAILURE;
  }

  /** Cancels the calls open on the channel (each rejects with LogClosedError) and closes its connection. */
  close(): void {
    this.closed = true;
    for (const call of this.open) call.cancel();
    this.open.clear();
    // The services share the log client's channel: closing it closes the connection.
    this.clients.log.close();
  }
}
