// Configuration of one node: where it keeps its data, where it listens, and every limit it
// enforces. All of it is validated here, once, at start-up, with a message naming the field; the
// storage part is validated by the storage layer's own resolver, called from here.
import { isIP } from "node:net";
import { InvalidConfigError } from "../errors.ts";
import { requireInteger, rejectUnknownKeys } from "../config-checks.ts";
import type { AclFiles } from "../security/acl.ts";
import type { TlsFiles } from "../security/tls-material.ts";
import { FULL_HEADER_BYTES, resolveLogConfig, resolveProducerLimits, type LogConfig, type ProducerLimits } from "../storage/index.ts";

export interface ServerLimits {
  /** Largest record value accepted (also the storage's recordBytesMax). */
  readonly recordBytesMax: number;
  /** Largest RPC message accepted or sent, before any decoding. */
  readonly messageBytesMax: number;
  /** Most records in one ProduceBatch. */
  readonly batchRecordsMax: number;
  /** Most records in one read answer (ConsumeBatch, one ConsumeBatchStream message). */
  readonly readRecordsMax: number;
  /** Byte budget of record values in one read answer. */
  readonly readBytesMax: number;
  /** Longest a ConsumeBatch may wait for a new record (max_wait_ms is capped to this). */
  readonly readWaitMsMax: number;
  /** Concurrent RPC streams (calls) over all connections. */
  readonly streamsMax: number;
  /** Concurrent RPC streams on one HTTP/2 connection (advertised as SETTINGS_MAX_CONCURRENT_STREAMS). */
  readonly streamsPerConnectionMax: number;
  /**
   * Streams one HTTP/2 connection may reset within streamResetWindowMs; a connection that resets
   * more (the rapid reset of CVE-2023-44487) gets GOAWAY (ENHANCE_YOUR_CALM) and is closed.
   */
  readonly streamResetsPerConnectionMax: number;
  readonly streamResetWindowMs: number;
  /** Open connections. */
  readonly connectionsMax: number;
  /** A connection without a call in progress for this long is closed (HTTP/2 with GOAWAY; HTTP/1.1 keep-alive). */
  readonly connectionIdleTimeoutMs: number;
  /** Longest an HTTP/1.1 request may take to send its request line and headers. */
  readonly requestHeadersTimeoutMs: number;
  /**
   * Longest an HTTP/1.1 request may take to arrive whole, body included (408 after it), and the one
   * request of an HTTP/2 call that is not client-streaming (gRPC: DEADLINE_EXCEEDED; Connect and
   * gRPC-Web: the stream is reset): a client that stalls part way through its body does not hold
   * its connection or stream for good. Answers take as long as they take (a following stream, a
   * long poll), and so do a client stream's requests.
   */
  readonly requestTimeoutMs: number;
  /**
   * A new connection that sends nothing for this long is closed: before its first bytes say what it
   * is, during its TLS handshake, and after the handshake of a peer's TLS connection.
   */
  readonly firstBytesTimeoutMs: number;
  /**
   * Bytes one stream may hold in flight: records read from a ProduceStream but not yet
   * acknowledged, or answers written to a consumer but not yet taken by the network.
   */
  readonly streamBytesInFlightMax: number;
  /**
   * Answer bytes the calls of one HTTP/2 connection may hold waiting for the network, together: a
   * connection with many calls gives each its share (at least 64 KiB) instead of a whole stream budget.
   */
  readonly connectionBytesInFlightMax: number;
  /** On shutdown, how long calls in progress get to finish before they are cut off. */
  readonly shutdownGraceMs: number;
}

export interface SecurityConfig {
  /** TLS on the one port (every plane); absent: plaintext, on a loopback address only unless `insecure`. */
  readonly tls: TlsFiles | undefined;
  /** A casbin model and policy deciding every call; absent: every call is allowed. */
  readonly acl: AclFiles | undefined;
  /** JSON of bearer token to principal, for callers without a client certificate. */
  readonly tokensFile: string | undefined;
  /** Plaintext on a non-loopback address, asked for explicitly. */
  readonly insecure: boolean;
  /** How often the TLS, ACL and token files are polled for change (each change reloads them). */
  readonly reloadIntervalMs: number;
}

export interface ServerConfig {
  /** Directory of the log (created if absent). */
  readonly dataDir: string;
  readonly host: string;
  /** TCP port; 0 picks a free one. */
  readonly port: number;
  /** This node's id, reported by GetServers. */
  readonly nodeId: string;
  /** Address clients should use for this node (GetServers); defaults to host:port as bound. */
  readonly advertiseAddress: string | undefined;
  readonly limits: ServerLimits;
  /** Storage options (see src/storage/config.ts); recordBytesMax comes from limits. */
  readonly log: LogConfig;
  readonly security: SecurityConfig;
  /** The idempotent producers remembered (src/storage/producer-sequences.ts). */
  readonly producers: ProducerLimits;
}

export interface ServerConfigInput extends Partial<Omit<ServerConfig, "limits" | "log" | "security" | "producers">> {
  readonly security?: Partial<SecurityConfig>;
  readonly producers?: Partial<ProducerLimits>;
  readonly limits?: Partial<ServerLimits>;
  readonly log?: Partial<Omit<LogConfig, "recordBytesMax">>;
}

const KIB = 1024;
const MIB = 1024 * KIB;
/** Room for a message's own fields around its records (offsets, lengths, tags). */
const MESSAGE_OVERHEAD_BYTES = 1 * KIB;
/** Protobuf bytes around one record value in a message: tags, lengths, offset, term, type, time. */
export const RECORD_WIRE_OVERHEAD_BYTES = 48;

export const defaultServerLimits: ServerLimits = {
  recordBytesMax: 1 * MIB,
  messageBytesMax: 8 * MIB,
  batchRecordsMax: 65_536,
  readRecordsMax: 10_000,
  readBytesMax: 1 * MIB,
  readWaitMsMax: 60_000,
  streamsMax: 16_384,
  streamsPerConnectionMax: 4_096,
  streamResetsPerConnectionMax: 200,
  streamResetWindowMs: 10_000,
  connectionsMax: 4_096,
  connectionIdleTimeoutMs: 300_000,
  requestHeadersTimeoutMs: 10_000,
  requestTimeoutMs: 60_000,
  firstBytesTimeoutMs: 10_000,
  streamBytesInFlightMax: 1 * MIB,
  connectionBytesInFlightMax: 64 * MIB,
  shutdownGraceMs: 2_000,
};

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 8400;
export const DEFAULT_DATA_DIR = "data";

function requireString(name: string, value: unknown): string {
  if (typeof value !== "string" || value.length === 0) throw new InvalidConfigError(`${name} must be a non-empty string, got ${String(value)}`);
  return value;
}

function resolveLimits(input: Partial<ServerLimits>): ServerLimits {
  rejectUnknownKeys(input, defaultServerLimits, "limit");
  // Unset, the request timeout is never below the headers timeout (which Node requires), as set.
  const requestTimeoutMs = input.requestTimeoutMs ?? Math.max(defaultServerLimits.requestTimeoutMs, input.requestHeadersTimeoutMs ?? 0);
  const limits: ServerLimits = { ...defaultServerLimits, ...input, requestTimeoutMs };
  requireInteger("limits.recordBytesMax", limits.recordBytesMax, 1, 64 * MIB);
  // Any accepted record must fit in an answer, so a message holds at least one record with room to spare.
  requireInteger("limits.messageBytesMax", limits.messageBytesMax, limits.recordBytesMax + MESSAGE_OVERHEAD_BYTES, 1024 * MIB);
  requireInteger("limits.batchRecordsMax", limits.batchRecordsMax, 1, 1_000_000);
  requireInteger("limits.readRecordsMax", limits.readRecordsMax, 1, 1_000_000);
  requireInteger("limits.readBytesMax", limits.readBytesMax, 1, limits.messageBytesMax - MESSAGE_OVERHEAD_BYTES - limits.recordBytesMax);
  requireInteger("limits.readWaitMsMax", limits.readWaitMsMax, 0, 3_600_000);
  requireInteger("limits.streamsMax", limits.streamsMax, 1, 1_000_000);
  requireInteger("limits.streamsPerConnectionMax", limits.streamsPerConnectionMax, 1, limits.streamsMax);
  requireInteger("limits.streamResetsPerConnectionMax", limits.streamResetsPerConnectionMax, 1, 1_000_000);
  requireInteger("limits.streamResetWindowMs", limits.streamResetWindowMs, 1, 3_600_000);
  requireInteger("limits.connectionsMax", limits.connectionsMax, 1, 1_000_000);
  // Timers hold at most 2^31-1 ms.
  requireInteger("limits.connectionIdleTimeoutMs", limits.connectionIdleTimeoutMs, 100, 2 ** 31 - 1);
  requireInteger("limits.requestHeadersTimeoutMs", limits.requestHeadersTimeoutMs, 100, 2 ** 31 - 1);
  requireInteger("limits.requestTimeoutMs", limits.requestTimeoutMs, limits.requestHeadersTimeoutMs, 2 ** 31 - 1);
  requireInteger("limits.firstBytesTimeoutMs", limits.firstBytesTimeoutMs, 100, 2 ** 31 - 1);
  requireInteger("limits.streamBytesInFlightMax", limits.streamBytesInFlightMax, 64 * KIB, 1024 * MIB);
  requireInteger("limits.connectionBytesInFlightMax", limits.connectionBytesInFlightMax, limits.streamBytesInFlightMax, 64 * 1024 * MIB);
  requireInteger("limits.shutdownGraceMs", limits.shutdownGraceMs, 0, 600_000);
  return limits;
}

/** Whether `host` reaches only this machine (127.0.0.0/8, ::1, localhost). */
export function isLoopbackHost(host: string): boolean {
  if (host === "localhost") return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  return host === "::1";
}

function resolveSecurity(input: Partial<SecurityConfig>, host: string): SecurityConfig {
  rejectUnknownKeys(input, new Set(["tls", "acl", "tokensFile", "insecure", "reloadIntervalMs"]), "security config field");
  const tls =
    input.tls === undefined
      ? undefined
      : {
          certFile: requireString("security.tls.certFile (--tls-cert)", input.tls.certFile),
          keyFile: requireString("security.tls.keyFile (--tls-key)", input.tls.keyFile),
          caFile: input.tls.caFile === undefined ? undefined : requireString("security.tls.caFile (--tls-ca)", input.tls.caFile),
        };
  const acl =
    input.acl === undefined
      ? undefined
      : { modelFile: requireString("security.acl.modelFile (--acl-model)", input.acl.modelFile), policyFile: requireString("security.acl.policyFile (--acl-policy)", input.acl.policyFile) };
  const tokensFile = input.tokensFile === undefined ? undefined : requireString("security.tokensFile (--tokens)", input.tokensFile);
  const insecure = input.insecure ?? false;
  if (typeof insecure !== "boolean") throw new InvalidConfigError(`security.insecure must be a boolean, got ${String(insecure)}`);
  if (tls === undefined && !insecure && !isLoopbackHost(host)) {
    throw new InvalidConfigError(`listening on ${host} without TLS: give --tls-cert and --tls-key, or --insecure to serve plaintext on the network`);
  }
  return { tls, acl, tokensFile, insecure, reloadIntervalMs: requireInteger("security.reloadIntervalMs", input.reloadIntervalMs ?? 1000, 10, 3_600_000) };
}

/** Fills defaults and validates every field; throws InvalidConfigError naming the first bad one. */
export function resolveServerConfig(input: ServerConfigInput = {}): ServerConfig {
  rejectUnknownKeys(input, new Set(["dataDir", "host", "port", "nodeId", "advertiseAddress", "limits", "log", "security", "producers"]), "server config field");
  const limits = resolveLimits(input.limits ?? {});
  // The storage takes a whole ProduceBatch as one append: the largest message of the largest batch,
  // as stored frames, must fit its batch budget.
  const batchFrameBytesMax = limits.messageBytesMax + limits.batchRecordsMax * FULL_HEADER_BYTES;
  const log = resolveLogConfig({ batchBytesMax: Math.max(batchFrameBytesMax, 16 * MIB), ...input.log, recordBytesMax: limits.recordBytesMax });
  if (log.batchBytesMax < batchFrameBytesMax) {
    throw new InvalidConfigError(
      `log.batchBytesMax ${log.batchBytesMax} is below the largest batch the limits admit ` +
        `(messageBytesMax + batchRecordsMax x ${FULL_HEADER_BYTES} = ${batchFrameBytesMax})`,
    );
  }
  const producers = resolveProducerLimits(input.producers);
  // A single node cuts a torn batch (its mark written, not all its records) at start only if the scan
  // back from the end reaches the mark: the scan must cover the largest batch and its mark.
  if (producers.scanRecordsMax <= limits.batchRecordsMax) {
    throw new InvalidConfigError(`producers.scanRecordsMax (${producers.scanRecordsMax}) must exceed limits.batchRecordsMax (${limits.batchRecordsMax}): the scan at start must reach a torn batch's mark to cut the batch`);
  }
  const advertiseAddress = input.advertiseAddress === undefined ? undefined : requireString("advertiseAddress", input.advertiseAddress);
  const host = requireString("host", input.host ?? DEFAULT_HOST);
  return {
    dataDir: requireString("dataDir", input.dataDir ?? DEFAULT_DATA_DIR),
    host,
    port: requireInteger("port", input.port ?? DEFAULT_PORT, 0, 65_535),
    nodeId: requireString("nodeId", input.nodeId ?? "loghouse-0"),
    advertiseAddress,
    limits,
    log,
    security: resolveSecurity(input.security ?? {}, host),
    producers,
  };
}
