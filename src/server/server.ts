// A single Loghouse node: one storage log served on one TCP port to gRPC (HTTP/2), gRPC-Web and
// Connect (HTTP/1.1 and HTTP/2) clients, with the standard health service.
//
//   TCP port ─ routeConnection ─┬─ HTTP/2 ─ "stream" ─┬─ application/grpc[+proto] → GrpcHandler (fast path)
//                               │                      └─ anything else → connect-node router
//                               ├─ HTTP/1.1 → connect-node router (Connect, gRPC-Web)
//                               ├─ 0x01 → Raft (not on a single node: closed)
//                               └─ TLS ClientHello → handshake, then by ALPN: h2 → HTTP/2, http/1.1 → HTTP/1.1,
//                                  loghouse-peer/1 → Raft (a verified certificate required)
//
// With TLS configured, plaintext connections of every kind are closed. Every call passes the one
// authorization check (call-authorizer.ts): in the gRPC fast path and as a Connect interceptor.
//
// Shutdown (close): health turns NOT_SERVING, the port stops accepting, every waiting call (tail
// streams, health watches, fetches waiting for data) ends with UNAVAILABLE, HTTP/2 connections get
// GOAWAY, calls in progress get shutdownGraceMs to finish, and then the log closes, which waits for
// and syncs every append that was queued, so nothing acknowledged is lost.
import { Code, ConnectError, cors, createContextKey, createContextValues, type Interceptor, type StreamRequest, type UnaryRequest } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Health } from "../gen/grpc/health/v1/health_pb.ts";
import { Log as LogServiceDesc, Server_Liveness, Server_Role } from "../gen/log/v1/log_pb.ts";
import { Admin } from "../gen/loghouse/admin/v1/admin_pb.ts";
import { InvalidConfigError, NotClusteredError } from "../errors.ts";
import { ADMIN_MARKER, serveAdminConnection } from "../cluster/admin-protocol.ts";
import { CLUSTER_ID_HEADER, clusterRefusal } from "../wire/cluster-id.ts";
import { NodeMetrics } from "../observability/node-metrics.ts";
import type { MethodMetrics } from "../observability/rpc-metrics.ts";
import type { Tracer } from "../observability/tracing.ts";
import { Log, LogProducers, type ProducerAppender, type ServedLog } from "../storage/index.ts";
import { createAdminService } from "./admin-service.ts";
import { rejectionReasonOf, type CallAuthorizer } from "./call-authorizer.ts";
import { CALL_PRINCIPAL } from "./call-context.ts";
import { isLoopbackHost, resolveServerConfig, type ServerConfig, type ServerConfigInput } from "./config.ts";
import { certificatePrincipalOf } from "./connection-identity.ts";
import { ConnectionGuard } from "./connection-guard.ts";
import { GrpcHandler, isBinaryGrpc, sendTrailersOnly } from "./grpc-handler.ts";
import { RequestDeadlines, type ArrivingRequest } from "./request-deadlines.ts";
import { createHealthService, HealthState, ServingStatus } from "./health-service.ts";
import { registerConsole } from "./console-files.ts";
import { HttpRoutes } from "./http-routes.ts";
import { routeConnection } from "./listener.ts";
import type { ServedCluster } from "./served-cluster.ts";
import { createLogService } from "./log-service.ts";
import { producerTableFor } from "./producer-owner.ts";
import { createReflectionService, REFLECTION_SERVICES } from "./reflection-service.ts";
import { serveProbes } from "./probe-routes.ts";
import { silentLogger, type Logger } from "./logger.ts";
import { ServerSecurity } from "./server-security.ts";
import { ERROR_CODE_KEY, isUnexpected, LEADER_ADDRESS_KEY, shuttingDown, toConnectError } from "./status.ts";

export interface ServerOptions {
  readonly logger?: Logger;
  /**
   * Takes connections whose first byte is 0x01 (Raft peers). The seam for a cluster; a single node
   * has no peers and closes them.
   */
  readonly onRaftConnection?: (socket: net.Socket) => void;
  /**
   * Serve this cluster member instead of opening a log of its own: its replicated log answers the
   * RPCs, its members answer GetServers, and it takes the cluster connections (0x01, 0x02).
   */
  readonly cluster?: ServedCluster;
  /** The node's metrics (made here when absent); a cluster member's were handed to its Raft node and log too. */
  readonly metrics?: NodeMetrics;
  /** Traces the produce calls (absent: no tracing; see src/observability/tracing.ts). */
  readonly tracer?: Tracer;
}

/** HTTP/2 connection-level receive window: lets several streams each fill their own window. */
const SESSION_WINDOW_BYTES = 16 * 1024 * 1024;

export class LoghouseServer {
  private readonly sockets = new Set<net.Socket>();
  private readonly sessions = new Set<http2.ServerHttp2Session>();
  private streams = 0;
  private closing: Promise<void> | undefined;
  /** Whether the log of a node alone can write (false while its disk is full). */
  private writable = true;
  /** Called when the last connection closes during shutdown. */
  private onLastSocketClosed: (() => void) | undefined;

  private constructor(
    readonly config: ServerConfig,
    readonly log: ServedLog,
    private readonly closeLog: () => Promise<void>,
    private readonly logger: Logger,
    private readonly health: HealthState,
    private readonly grpc: GrpcHandler,
    private readonly requestDeadlines: RequestDeadlines,
    private readonly shutdown: AbortController,
    private readonly tcp: net.Server,
    private readonly http1: http.Server,
    private readonly security: ServerSecurity,
    readonly metrics: NodeMetrics,
    private readonly cluster: ServedCluster | undefined,
  ) {}

  /** Validates the configuration, opens the log and listens; rejects with InvalidConfigError or a storage error. */
  static async start(input: ServerConfigInput = {}, options: ServerOptions = {}): Promise<LoghouseServer> {
    const config = resolveServerConfig(input);
    const logger = options.logger ?? silentLogger;
    const metrics = options.metrics ?? new NodeMetrics();
    if (options.cluster !== undefined) {
      const cluster = options.cluster;
      return LoghouseServer.listen(config, cluster.log, cluster.log, () => cluster.close(), logger, metrics, options);
    }
    const log = await Log.open(config.dataDir, config.log, { logger, metrics });
    const { recovery } = log;
    if (recovery.truncatedBytes > 0 || recovery.scannedRecords > 0 || recovery.emptySegmentsRemoved > 0) logger.warn("log recovered", { ...recovery });
    try {
      const producers = await LogProducers.open(log, producerTableFor(config.producers, config.security));
      const cut = producers.tornBatchCut;
      if (cut !== undefined) {
        // Right after a crash tore the batch's write, none of it was acknowledged. If the end of the
        // log was damaged after it was acknowledged instead, this removed acknowledged records: say so.
        logger.error("cut a batch torn off the end of the log: its records ended before its mark's count", {
          removedFromOffset: cut.markOffset,
          removedRecords: cut.found + 1,
          markCounted: cut.counted,
          recordsFound: cut.found,
          nextOffset: log.nextOffset,
        });
      }
      return await LoghouseServer.listen(config, log, producers, () => log.close(), logger, metrics, options);
    } catch (error) {
      await log.close();
      throw error;
    }
  }

  private static async listen(
    config: ServerConfig,
    log: ServedLog,
    producers: ProducerAppender,
    closeLog: () => Promise<void>,
    logger: Logger,
    metrics: NodeMetrics,
    options: ServerOptions,
  ): Promise<LoghouseServer> {
    const { limits } = config;
    const security = await ServerSecurity.load(config.security, logger);
    if (options.cluster !== undefined && security.tlsEnabled) {
      // Peers are authenticated by their certificates, which only a CA can vouch for.
      if (!security.verifiesClients) throw new InvalidConfigError("a cluster member with TLS needs --tls-ca: its peers prove who they are with certificates from that CA");
      options.cluster.usePeerSecurity(security.peerSecurity());
    }
    const health = new HealthState(new Set([LogServiceDesc.typeName, Health.typeName]));
    // A cluster member repairing its log, or removed from its cluster, does not serve as a member.
    options.cluster?.onServingChange((serving) => health.set(serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING));
    // A node alone does not serve while its log cannot write (a full disk), and does again once it can.
    if (log instanceof Log) {
      log.on("writable", (writable) => {
        if (server !== undefined) server.writable = writable;
        health.set(writable ? ServingStatus.SERVING : ServingStatus.NOT_SERVING);
      });
    }
    let server: LoghouseServer | undefined;
    const logService = createLogService({
      log,
      producers,
      limits,
      ...(options.tracer === undefined ? {} : { tracer: options.tracer }),
      onRecordsRead: (records) => metrics.recordsRead(records),
      servers: () =>
        options.cluster?.servers() ?? [
          { id: config.nodeId, rpcAddr: server?.advertisedAddress ?? "", isLeader: true, isVoter: true, liveness: Server_Liveness.ALIVE, role: Server_Role.VOTER, term: 0n, lag: 0n },
        ],
      clusterId: () => options.cluster?.clusterId,
    });
    const healthService = createHealthService(health);
    const requestDeadlines = new RequestDeadlines(limits.requestTimeoutMs);
    const grpc = new GrpcHandler({
      requestDeadlines,
      messageBytesMax: limits.messageBytesMax,
      streamBytesInFlightMax: limits.streamBytesInFlightMax,
      connectionBytesInFlightMax: limits.connectionBytesInFlightMax,
      logger,
      authorizer: security.authorizer,
      clusterId: () => options.cluster?.clusterId,
      metrics,
    });
    grpc.addService(LogServiceDesc, logService);
    grpc.addService(Health, healthService);
    // Operators' changes to the cluster (a node alone refuses them with NOT_CLUSTERED).
    const adminService = createAdminService(options.cluster);
    grpc.addService(Admin, adminService);
    // Reflection describes every service above, and itself, to clients that have no .proto files.
    const reflectionService = createReflectionService([LogServiceDesc, Health, Admin]);
    for (const reflection of REFLECTION_SERVICES) grpc.addService(reflection, reflectionService);

    const shutdown = new AbortController();
    // Plain HTTP endpoints (metrics, health probes, the console) answer what no RPC route matches.
    const httpRoutes = new HttpRoutes();
    registerConsole(httpRoutes);
    serveProbes(httpRoutes, metrics, () => (server === undefined ? "starting" : server.notReadyReason()));
    const connect = withCors(
      connectNodeAdapter({
        routes: (router) => {
          router.service(LogServiceDesc, logService);
          router.service(Health, healthService);
          router.service(Admin, adminService);
          for (const reflection of REFLECTION_SERVICES) router.service(reflection, reflectionService);
        },
        readMaxBytes: limits.messageBytesMax,
        writeMaxBytes: limits.messageBytesMax,
        // A field the message does not have is a mistake to report (protobuf's JSON rule), not to
        // skip: {"offsett": "9"} read from offset 0.
        jsonOptions: { ignoreUnknownFields: false },
        shutdownSignal: shutdown.signal,
        contextValues: (request) => createContextValues().set(CERTIFICATE_PRINCIPAL, certificatePrincipalOf(request.socket)),
        interceptors: [countCalls(metrics), mapErrors(logger), authorize(security.authorizer, metrics), sameCluster(() => options.cluster?.clusterId)],
        fallback: httpRoutes.handle,
      }),
    );
    const http1 = http.createServer(
      {
        // A client that holds a connection open with half a request line or half a body, or idle
        // between requests, is cut off; the timeouts are checked at a tenth of the headers timeout.
        headersTimeout: limits.requestHeadersTimeoutMs,
        requestTimeout: limits.requestTimeoutMs,
        keepAliveTimeout: limits.connectionIdleTimeoutMs,
        connectionsCheckingInterval: Math.max(100, Math.floor(limits.requestHeadersTimeoutMs / 10)),
      },
      connect,
    );
    // The HTTP/1.1 server never listens (connections are handed to it), and Node checks the headers
    // timeout of a server's connections only from its "listening" event on.
    http1.emit("listening");
    const tcp = net.createServer({ noDelay: true });
    tcp.maxConnections = limits.connectionsMax;
    server = new LoghouseServer(config, log, closeLog, logger, health, grpc, requestDeadlines, shutdown, tcp, http1, security, metrics, options.cluster);
    metrics.observeServer({ connections: () => server!.sockets.size, streams: () => server!.streams });
    // Past connectionsMax, Node closes a new connection at once (and says so only by this event).
    tcp.on("drop", () => metrics.rejected("connection_limit"));
    const http2Server = server.createHttp2Server(connect);
    const toHttp2 = (socket: net.Socket): void => {
      http2Server.emit("connection", socket);
    };
    const toHttp1 = (socket: net.Socket): void => {
      http1.emit("connection", socket);
      socket.resume();
    };
    const toRaft =
      (options.cluster === undefined ? undefined : (socket: net.Socket) => options.cluster!.acceptConnection(socket)) ??
      options.onRaftConnection ??
      ((socket: net.Socket) => {
        // A node asking to join (0x02) is told this node runs alone, so that it stops asking at once.
        socket.once("data", (firstBytes: Buffer) => {
          if (firstBytes[0] === ADMIN_MARKER) {
            void serveAdminConnection(socket, firstBytes, () => Promise.reject(new NotClusteredError("this node runs alone, not as a member of a cluster")));
            return;
          }
          logger.warn("closing a Raft connection: this node runs alone", { remote: socket.remoteAddress });
          socket.destroy();
        });
        socket.resume();
      });
    const refusePlaintext = (socket: net.Socket): void => {
      metrics.rejected("plaintext_refused");
      logger.debug("closing a plaintext connection: this node serves TLS only", { remote: socket.remoteAddress });
      socket.destroy();
    };
    const tlsServer = security.tlsEnabled
      ? security.createTlsServer({ http2: toHttp2, http1: toHttp1, peer: toRaft }, limits.firstBytesTimeoutMs, (reason) => {
          // Handshakes cut short by this node's own shutdown are not the clients' failures.
          if (!shutdown.signal.aborted) metrics.rejected(reason);
        })
      : undefined;
    const routes = {
      tls:
        tlsServer === undefined
          ? (socket: net.Socket) => {
              logger.debug("closing a TLS connection: this node has no certificate", { remote: socket.remoteAddress });
              socket.destroy();
            }
          : (socket: net.Socket) => tlsServer.emit("connection", socket),
      http2: tlsServer === undefined ? toHttp2 : refusePlaintext,
      http1: tlsServer === undefined ? toHttp1 : refusePlaintext,
      raft: tlsServer === undefined ? toRaft : refusePlaintext,
    };
    tcp.on("connection", (socket) => {
      server!.track(socket);
      routeConnection(socket, routes, limits.firstBytesTimeoutMs);
    });
    await new Promise<void>((resolve, reject) => {
      tcp.once("error", reject);
      tcp.listen(config.port, config.host, () => {
        tcp.off("error", reject);
        resolve();
      });
    });
    tcp.on("error", (error) => logger.error("listener failed", { error }));
    security.watch();
    if (!security.tlsEnabled && !isLoopbackHost(config.host)) {
      logger.warn("serving plaintext on the network (--insecure): anyone who can reach the port can read, write and impersonate peers", { host: config.host });
    }
    if (!security.authorizes && (security.verifiesClients || security.takesTokens)) {
      logger.warn("callers are identified (client certificates or tokens) but no ACL is set: every call is allowed, from anyone, with or without an identity (give --acl-model and --acl-policy)");
    }
    logger.info("listening", {
      address: server.address,
      tls: security.tlsEnabled,
      clientCertificates: security.verifiesClients,
      tokens: security.takesTokens,
      acl: security.authorizes,
      dataDir: config.dataDir,
      lowestOffset: log.lowestOffset,
      nextOffset: log.nextOffset,
    });
    return server;
  }

  private createHttp2Server(connect: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void): http2.Http2Server {
    const { limits } = this.config;
    const server = http2.createServer({
      // Large frames let a client send a 1 MB batch in a few frames rather than sixty-four.
      settings: { maxConcurrentStreams: limits.streamsPerConnectionMax, initialWindowSize: limits.streamBytesInFlightMax, maxFrameSize: 1 << 20 },
      maxSessionMemory: 64,
    });
    const guardLimits = {
      streamResetsMax: limits.streamResetsPerConnectionMax,
      streamResetWindowMs: limits.streamResetWindowMs,
      callsMax: limits.streamsPerConnectionMax,
      idleTimeoutMs: limits.connectionIdleTimeoutMs,
    };
    server.on("session", (session) => {
      this.sessions.add(session);
      session.once("close", () => this.sessions.delete(session));
      session.on("error", (error) => this.logger.debug("HTTP/2 session error", { error }));
      session.once("connect", () => session.setLocalWindowSize(SESSION_WINDOW_BYTES));
      const remote = session.socket?.remoteAddress;
      const guard = new ConnectionGuard(session, guardLimits, () => performance.now(), (violation) => {
        this.metrics.rejected(violation === "stream resets" ? "rapid_reset" : "calls_in_progress");
        this.logger.warn("closing an HTTP/2 connection over its limit", { violation, remote });
      });
      session.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
        if (guard.admit(stream)) this.serveStream(stream, headers, rawHeaders, guard, connect);
        else if (!stream.closed) stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      });
    });
    return server;
  }

  private serveStream(
    stream: http2.ServerHttp2Stream,
    headers: http2.IncomingHttpHeaders,
    rawHeaders: string[],
    guard: ConnectionGuard,
    connect: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  ): void {
    const binaryGrpc = isBinaryGrpc(headers["content-type"]);
    if (this.streams >= this.config.limits.streamsMax || this.closing !== undefined) {
      this.metrics.rejected(this.closing === undefined ? "too_many_streams" : "shutting_down");
      refuseStream(stream, binaryGrpc, this.closing !== undefined);
      return;
    }
    this.streams++;
    stream.once("close", () => this.streams--);
    if (binaryGrpc) {
      guard.track(stream, this.grpc.handle(stream, headers));
    } else {
      guard.track(stream, new Promise((resolve) => stream.once("close", resolve)));
      if (!stream.endAfterHeaders && this.grpc.sendsOneRequest(headers[":path"])) this.watchRequest(stream);
      const request = new http2.Http2ServerRequest(stream, headers, {}, rawHeaders);
      const response = new http2.Http2ServerResponse(stream);
      // connect-node waits for "drain" or "error" after a write the stream did not take at once; a
      // stream reset meanwhile emits neither, which held the handler (and the records it had read)
      // forever. Woken, it finds the call aborted and ends.
      stream.once("close", () => response.emit("drain"));
      // An answer complete while the request's bytes lie unread (a message over the limit, refused
      // as it came): the rest of the request is refused with RST_STREAM NO_ERROR, HTTP/2's "stop
      // sending" (RFC 9113 §8.1), and the stream is let go. Kept, it held its slot among the
      // connection's calls until the connection closed, and the client went on sending into it.
      // Only then: Chromium fails a call answered in full when the reset comes before the end of a
      // request it has sent whole.
      stream.once("finish", () => {
        if (stream.readableEnded || stream.closed || stream.readableLength === 0) return;
        stream.close(http2.constants.NGHTTP2_NO_ERROR);
        stream.destroy();
      });
      connect(request, response);
    }
  }

  /**
   * Resets a stream served by the router (Connect, gRPC-Web) whose one request has not arrived whole
   * within the request timeout, as the gRPC handler ends its own calls.
   */
  private watchRequest(stream: http2.ServerHttp2Stream): void {
    const arriving: ArrivingRequest = { startedMs: performance.now(), requestTimedOut: () => stream.close(http2.constants.NGHTTP2_CANCEL) };
    const arrived = (): void => this.requestDeadlines.arrived(arriving);
    this.requestDeadlines.watch(arriving);
    stream.once("end", arrived);
    stream.once("close", arrived);
  }

  /** The node's own storage log when it runs alone; undefined when it serves a cluster member. */
  get storage(): Log | undefined {
    return this.log instanceof Log ? this.log : undefined;
  }

  /** The address bound (with the real port when 0 was asked for). */
  get address(): { host: string; port: number } {
    const bound = this.tcp.address() as net.AddressInfo | null;
    return { host: this.config.host, port: bound?.port ?? this.config.port };
  }

  /** Reads the TLS, ACL and token files again (SIGHUP); a file that fails to load is logged and the old one kept. */
  reloadSecurity(): Promise<void> {
    return this.security.reload();
  }

  /** HTTP/2 streams (RPCs) open now, over every protocol. */
  get streamsOpen(): number {
    return this.streams;
  }

  /** Answer bytes the gRPC fast path holds for the network (slow readers are held to their in-flight budget). */
  get bytesQueued(): number {
    return this.grpc.bytesQueued;
  }

  /**
   * Why the node should not be sent traffic now (GET /readyz answers 503 with it), or undefined when
   * it serves: shutting down, a full disk, or what its cluster member says (repairing, removed, no leader).
   */
  notReadyReason(): string | undefined {
    if (this.closing !== undefined) return "shutting down";
    if (this.cluster !== undefined) return this.cluster.notReadyReason();
    return this.writable ? undefined : "disk full";
  }

  /** What GetServers reports as this node's address. */
  get advertisedAddress(): string {
    return this.config.advertiseAddress ?? `${this.address.host}:${this.address.port}`;
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.once("close", () => {
      this.sockets.delete(socket);
      if (this.sockets.size === 0) this.onLastSocketClosed?.();
    });
  }

  /** Drains and stops the server and closes the log; idempotent. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    const started = performance.now();
    this.logger.info("shutting down", { calls: this.grpc.size, connections: this.sockets.size });
    this.health.set(ServingStatus.NOT_SERVING);
    this.security.close();
    this.requestDeadlines.stop();
    const stopped = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    const reason = shuttingDown();
    this.shutdown.abort(reason);
    this.grpc.abortAll(reason);
    for (const session of this.sessions) session.close();
    this.http1.closeIdleConnections();
    await this.socketsClosed(this.config.limits.shutdownGraceMs);
    for (const socket of this.sockets) socket.destroy();
    this.http1.closeAllConnections();
    this.http1.close();
    await stopped;
    await this.closeLog();
    this.logger.info("stopped", { ms: Math.round(performance.now() - started), nextOffset: this.log.nextOffset });
  }

  /** Resolves when every connection has closed, or after `timeoutMs`. */
  private socketsClosed(timeoutMs: number): Promise<void> {
    if (this.sockets.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const finish = (): void => {
        clearTimeout(timer);
        this.onLastSocketClosed = undefined;
        resolve();
      };
      const timer = setTimeout(finish, timeoutMs);
      this.onLastSocketClosed = finish;
    });
  }
}

function refuseStream(stream: http2.ServerHttp2Stream, binaryGrpc: boolean, closing: boolean): void {
  stream.on("error", () => undefined);
  if (binaryGrpc) {
    sendTrailersOnly(stream, closing ? shuttingDown() : new ConnectError("too many concurrent streams", Code.ResourceExhausted));
  } else {
    stream.respond({ ":status": closing ? 503 : 429 }, { endStream: true });
  }
}

/** How a stream its client stopped reading ends (one instance: streams are cancelled by the thousand). */
const ABANDONED = new ConnectError("the client cancelled the call", Code.Canceled);

/**
 * An interceptor that tells `settle` how each call ended, once: `error` is undefined for success
 * (a unary answer, or a stream's last message), and what `settle` returns is thrown in its place.
 * A stream its client abandoned ends CANCELLED. `startedMs` is when the call reached the router.
 */
function settleCalls(settle: (request: UnaryRequest | StreamRequest, error: unknown, startedMs: number) => unknown): Interceptor {
  return (next) => async (request) => {
    const startedMs = performance.now();
    try {
      const response = await next(request);
      if (!response.stream) {
        settle(request, undefined, startedMs);
        return response;
      }
      const messages = response.message;
      return {
        ...response,
        message: (async function* () {
          let outcome: unknown = ABANDONED;
          try {
            yield* messages;
            outcome = undefined;
          } catch (error) {
            outcome = error;
          } finally {
            outcome = settle(request, outcome, startedMs);
          }
          if (outcome !== undefined) throw outcome;
        })(),
      };
    } catch (error) {
      throw settle(request, error, startedMs);
    }
  };
}

/** Maps every failure leaving a handler through the one catalogue mapping (src/server/status.ts). */
function mapErrors(logger: Logger): Interceptor {
  return settleCalls((_request, error) => {
    if (error === undefined) return undefined;
    const mapped = toConnectError(error);
    if (isUnexpected(mapped)) logger.error("call failed", { error: mapped.cause ?? mapped });
    return mapped;
  });
}

/** Counts and times the Connect router's calls, as the gRPC fast path does its own. */
function countCalls(metrics: NodeMetrics): Interceptor {
  const byMethod = new WeakMap<object, MethodMetrics>();
  return settleCalls((request, error, startedMs) => {
    let method = byMethod.get(request.method);
    if (method === undefined) {
      method = metrics.rpc.method(`/${request.service.typeName}/${request.method.name}`);
      byMethod.set(request.method, method);
    }
    method.ended(error === undefined ? undefined : ConnectError.from(error).code, (performance.now() - startedMs) / 1000);
    return error;
  });
}

/** The principal of the connection's verified client certificate, for the Connect router's calls. */
const CERTIFICATE_PRINCIPAL = createContextKey<string | undefined>(undefined, { description: "certificate principal" });

/**
 * The one authorization check (call-authorizer.ts) for calls through the Connect router; a stream's
 * answers end with the refusal once a reload takes its permission away.
 */
function authorize(authorizer: CallAuthorizer, metrics: NodeMetrics): Interceptor {
  return (next) => async (request) => {
    const procedure = `/${request.service.typeName}/${request.method.name}`;
    const credentials = { certificatePrincipal: request.contextValues.get(CERTIFICATE_PRINCIPAL), authorization: request.header.get("authorization") ?? undefined };
    try {
      request.contextValues.set(CALL_PRINCIPAL, authorizer.authorize(procedure, credentials));
    } catch (error) {
      metrics.rejected(rejectionReasonOf(error));
      throw error;
    }
    const response = await next(request);
    if (!response.stream) return response;
    return { ...response, message: untilRevoked(response.message, (revoke) => authorizer.watch(procedure, credentials, revoke)) };
  };
}

/**
 * `messages` until the authorizer revokes the stream (its refusal is then thrown, ending it). It is
 * watched from its first message on and let go when it ends. Each wait races the revocation with a
 * promise of its own: one shared promise would keep a reaction per message for the stream's life.
 */
async function* untilRevoked<T>(messages: AsyncIterable<T>, watch: (revoke: (refusal: unknown) => void) => () => void): AsyncGenerator<T> {
  let refused: { readonly reason: unknown } | undefined;
  let failWait: ((reason: unknown) => void) | undefined;
  const unwatch = watch((reason) => {
    refused = { reason };
    failWait?.(reason);
  });
  const iterator = messages[Symbol.asyncIterator]();
  try {
    for (;;) {
      if (refused !== undefined) throw refused.reason;
      const next = await new Promise<IteratorResult<T>>((resolve, reject) => {
        failWait = reject;
        iterator.next().then(resolve, reject);
      });
      failWait = undefined;
      if (next.done === true) return;
      yield next.value;
    }
  } finally {
    unwatch();
    // Not awaited: a handler waiting for records ends with its call's signal, not here.
    void iterator.return?.()?.catch(() => undefined);
  }
}

/** Refuses a call through the Connect router that names another cluster than this node's (src/wire/cluster-id.ts). */
function sameCluster(clusterId: () => string | undefined): Interceptor {
  return (next) => async (request) => {
    const refusal = clusterRefusal(request.header.get(CLUSTER_ID_HEADER) ?? undefined, clusterId());
    if (refusal !== undefined) throw refusal;
    return next(request);
  };
}

type NodeHandler<Req extends http.IncomingMessage | http2.Http2ServerRequest, Res> = (request: Req, response: Res) => void;

/** An RPC's path, /package.Service/Method: what other origins may call. */
const RPC_PATH = /^\/[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)+\/[A-Za-z_][\w]*$/;

/**
 * Lets browsers on other origins call the RPCs (Connect and gRPC-Web need these headers); the
 * node's own pages and probes (/metrics, /readyz, the console) are for its origin alone.
 */
function withCors<Req extends http.IncomingMessage | http2.Http2ServerRequest, Res extends http.ServerResponse | http2.Http2ServerResponse>(
  handler: NodeHandler<Req, Res>,
): NodeHandler<Req, Res> {
  const allowMethods = cors.allowedMethods.join(", ");
  // Browsers authenticate with a bearer token (they cannot easily present client certificates), may
  // name the cluster they mean, and may carry a trace context (OpenTelemetry's fetch instrumentation).
  const allowHeaders = [...cors.allowedHeaders, "Authorization", CLUSTER_ID_HEADER, "traceparent", "tracestate"].join(", ");
  const exposeHeaders = [...cors.exposedHeaders, ERROR_CODE_KEY, LEADER_ADDRESS_KEY].join(", ");
  return (request, response) => {
    if (!RPC_PATH.test((request.url ?? "").split("?", 1)[0]!)) return handler(request, response);
    if (request.headers.origin !== undefined) {
      response.setHeader("access-control-allow-origin", "*");
      response.setHeader("access-control-expose-headers", exposeHeaders);
    }
    if (request.method === "OPTIONS") {
      response.setHeader("access-control-allow-methods", allowMethods);
      response.setHeader("access-control-allow-headers", allowHeaders);
      response.setHeader("access-control-max-age", "7200");
      response.statusCode = 204;
      response.end();
      return;
    }
    handler(request, response);
  };
}
