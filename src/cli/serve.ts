// `loghouse serve`: runs a node. Settings come from flags, then LOGHOUSE_* environment variables,
// then a JSON config file (--config / LOGHOUSE_CONFIG), then the defaults (./data, 127.0.0.1:8400);
// the first that sets a value wins. Logs are JSON lines on stdout (pino); --otlp-endpoint turns on
// traces. SIGTERM or SIGINT drains the server (and sends the last spans) and exits 0; a second
// signal exits at once.
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { splitAddressList } from "../client/address-list.ts";
import { isNodeName, NODE_NAME_RULE } from "../cluster/node-name.ts";
import { RaftStateFile } from "../cluster/raft-state-file.ts";
import { InvalidConfigError, UsageError } from "../errors.ts";
import { rejectUnknownKeys } from "../config-checks.ts";
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT, resolveServerConfig, type ServerConfigInput } from "../server/config.ts";
import { ClusterMember } from "../server/cluster-member.ts";
import { producerTableFor } from "../server/producer-owner.ts";
import { isLogLevel, jsonLogger, type Logger, type LogLevel } from "../server/logger.ts";
import { LoghouseServer } from "../server/server.ts";
import { Log, resolveLogConfig, type DurabilityPolicy } from "../storage/index.ts";
import { native } from "../storage/native.ts";
import { otlpTracesUrl, startTracing, type Tracer } from "../observability/tracing.ts";
import { NodeMetrics } from "../observability/node-metrics.ts";
import { defaultGossipConfig, validateGossipConfig, type GossipConfig } from "../membership/gossip-config.ts";
import { readGossipKey } from "../security/gossip-key.ts";
import { COMMANDS } from "./commands.ts";
import { parseHostPort } from "./address.ts";
import { parseDurationMs } from "./duration.ts";

export interface ServeFlags {
  readonly "data-dir"?: string;
  readonly listen?: string;
  readonly "node-id"?: string;
  readonly advertise?: string;
  readonly config?: string;
  readonly "log-level"?: string;
  readonly durability?: string;
  readonly "retention-bytes"?: string;
  readonly "retention-ms"?: string;
  readonly bootstrap?: boolean;
  readonly join?: string;
  readonly "gossip-key"?: string;
  readonly "dead-member-timeout"?: string;
  readonly "min-voters"?: string;
  readonly "tls-cert"?: string;
  readonly "tls-key"?: string;
  readonly "tls-ca"?: string;
  readonly "acl-model"?: string;
  readonly "acl-policy"?: string;
  readonly tokens?: string;
  readonly insecure?: boolean;
  readonly "otlp-endpoint"?: string;
}

/** The keys a config file may hold (limits, log and producers are passed to the server's own validation). */
export interface ConfigFile {
  dataDir?: string;
  listen?: string;
  nodeId?: string;
  advertise?: string;
  logLevel?: string;
  limits?: Record<string, unknown>;
  log?: Record<string, unknown>;
  producers?: Record<string, unknown>;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  aclModel?: string;
  aclPolicy?: string;
  tokens?: string;
  insecure?: boolean;
  otlpEndpoint?: string;
  join?: string;
  gossipKey?: string;
  deadMemberTimeout?: string;
  minVoters?: number;
  /** Gossip timings and limits (src/membership/gossip-config.ts), over memberlist's LAN defaults. */
  gossip?: Record<string, unknown>;
}

/** Each key a config file may hold, with the JSON type of its value. */
const CONFIG_FILE_KEYS: ReadonlyMap<string, "string" | "number" | "boolean" | "object"> = new Map([
  ...(["dataDir", "listen", "nodeId", "advertise", "logLevel", "tlsCert", "tlsKey", "tlsCa", "aclModel", "aclPolicy", "tokens", "otlpEndpoint", "join", "gossipKey", "deadMemberTimeout"] as const).map((key) => [key, "string"] as const),
  ...(["limits", "log", "producers", "gossip"] as const).map((key) => [key, "object"] as const),
  ["insecure", "boolean"],
  ["minVoters", "number"],
]);
/** Consul's autopilot keeps at least 3 voters unless told otherwise; a dead member is removed after a minute. */
const DEFAULT_MIN_VOTERS = 3;
/** More voters than any cluster should have: every write waits for a majority of them. */
const MIN_VOTERS_MAX = 99;
const DEFAULT_DEAD_MEMBER_TIMEOUT_MS = 60_000;

export async function readConfigFile(path: string): Promise<ConfigFile> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new InvalidConfigError(`cannot read config file ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) throw new InvalidConfigError(`config file ${path} must hold a JSON object`);
  for (const [key, value] of Object.entries(parsed)) {
    const type = CONFIG_FILE_KEYS.get(key);
    if (type === undefined) throw new InvalidConfigError(`unknown key in config file ${path}: ${key}`);
    const actual = value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
    if (actual !== type) throw new InvalidConfigError(`${key} in config file ${path} must be a ${type === "object" ? "JSON object" : type}, got ${actual === "array" ? "an array" : actual === "null" ? "null" : `a ${actual}`}`);
  }
  return parsed as ConfigFile;
}

export interface ServeSettings {
  readonly input: ServerConfigInput;
  /** Environment variables taken over the config file's values, which the node reports at start. */
  readonly overrides: readonly EnvironmentOverride[];
  readonly logLevel: LogLevel;
  /** Where spans go (OTLP/HTTP); absent, the node does not trace. */
  readonly otlpTracesUrl?: string;
  /** Present when the node is (or becomes) a cluster member. */
  readonly cluster?: {
    readonly name: string;
    readonly bootstrap: boolean;
    /** Members' addresses to join through (`--join`, comma-separated); empty for none. */
    readonly join: readonly string[];
    readonly gossip: ClusterGossipSettings;
  };
}

/** The gossip settings of a cluster member, before its key file is read. */
export interface ClusterGossipSettings {
  readonly keyFile: string | undefined;
  readonly config: Partial<GossipConfig>;
  readonly deadMemberTimeoutMs: number;
  readonly minVoters: number;
}

/** The node's name (`--node-id`), required of a cluster member; its Raft id is drawn by its data directory. */
function clusterNodeName(nodeId: string | undefined): string {
  if (nodeId === undefined) throw new InvalidConfigError(`a cluster member needs --node-id, a name of ${NODE_NAME_RULE}`);
  return nodeId;
}

/** The members --join names: at least one, each HOST:PORT. */
function joinSetting(text: string): string[] {
  const addresses = splitAddressList(text);
  if (addresses.length === 0) throw new InvalidConfigError(`--join must name at least one member as HOST:PORT, got ${JSON.stringify(text)}`);
  for (const address of addresses) parseHostPort(address, "join");
  return addresses;
}

/** --retention-bytes or --retention-ms: a whole number in the range the log takes. */
function retentionSetting(key: "retentionBytes" | "retentionMs", text: string): number {
  const value = integerSetting(key === "retentionBytes" ? "retention-bytes" : "retention-ms", text);
  resolveLogConfig({ [key]: value });
  return value;
}

/** A whole number given as text (its range is checked with the rest of the configuration). */
function integerSetting(name: string, text: string): number {
  if (!/^[0-9]+$/.test(text)) throw new InvalidConfigError(`${name} must be a whole number, got ${JSON.stringify(text)}`);
  return Number(text);
}

/** An environment variable taken over the config file's value for the same setting. */
export interface EnvironmentOverride {
  readonly variable: string;
  readonly value: string;
  readonly configFileValue: string;
}

/** A setting as its flag, environment variable or config file gives it: the text, or what `parse` reads in it. */
interface SettingPick {
  (flag: string | undefined, envName: string, fromFile: string | undefined): string | undefined;
  <T>(flag: string | undefined, envName: string, fromFile: string | undefined, parse: (value: string) => T): T | undefined;
}

/**
 * Picks each setting from its flag, else its environment variable, else the config file: the order
 * every setting follows. An empty value is refused, not taken: an empty data directory was the
 * working one. A variable that overrides a value the config file also sets is added to `overrides`,
 * for the node to report (the container image sets LOGHOUSE_LISTEN and LOGHOUSE_DATA_DIR, so a
 * config file's own were dropped without a word). `parse` reads the value, refusing a malformed
 * one with InvalidConfigError, which for a flag's value becomes a UsageError (exit 2), as for every
 * command.
 */
function settingPicker(env: NodeJS.ProcessEnv, overrides: EnvironmentOverride[]): SettingPick {
  return <T>(flag: string | undefined, envName: string, fromFile: string | undefined, parse?: (value: string) => T): T | string | undefined => {
    // A bad flag is a usage error (exit 2); a bad environment variable or config file, a configuration error.
    const flagName = `--${envName.slice("LOGHOUSE_".length).toLowerCase().replaceAll("_", "-")}`;
    if (flag !== undefined && flag.trim() === "") throw new UsageError(`${flagName} is empty: give a value or leave it out`);
    const fromEnv = env[envName];
    if (flag === undefined && fromEnv !== undefined && fromFile !== undefined && fromEnv !== fromFile) overrides.push({ variable: envName, value: fromEnv, configFileValue: fromFile });
    const value = flag ?? fromEnv ?? fromFile;
    if (value !== undefined && value.trim() === "") {
      throw new InvalidConfigError(`${env[envName] !== undefined ? envName : `the config file's value for ${flagName}`} is empty: give a value or leave it out`);
    }
    if (value === undefined || parse === undefined) return value;
    try {
      return parse(value);
    } catch (error) {
      if (flag !== undefined && error instanceof InvalidConfigError) throw new UsageError(error.message, { cause: error });
      throw error;
    }
  };
}

/**
 * LOGHOUSE_* names a node or the CLI reads, as their options' help names them ("env LOGHOUSE_X"); any
 * other is reported when a node starts (a misspelt one is ignored).
 */
const ENVIRONMENT_NAMES: ReadonlySet<string> = new Set(
  Object.values(COMMANDS).flatMap((command) => Object.values(command.options).flatMap((option) => [...option.help.matchAll(/\benv (LOGHOUSE_[A-Z_]+)/g)].map((match) => match[1]!))),
);

/** The LOGHOUSE_* variables in `env` that nothing reads. */
export function unknownEnvironmentNames(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env).filter((name) => name.startsWith("LOGHOUSE_") && !ENVIRONMENT_NAMES.has(name));
}

/** LOGHOUSE_INSECURE as a boolean, or undefined when unset. */
function booleanEnvironment(env: NodeJS.ProcessEnv, name: string): boolean | undefined {
  const value = env[name];
  if (value === undefined) return undefined;
  if (value === "true" || value === "1") return true;
  if (value === "false" || value === "0") return false;
  throw new InvalidConfigError(`${name} must be true, 1, false or 0, got ${JSON.stringify(value)}`);
}

/** Both files of a pair, or neither; `names` are the flags, for the message. */
function pair(first: string | undefined, second: string | undefined, names: string): [string, string] | undefined {
  if (first === undefined && second === undefined) return undefined;
  if (first === undefined || second === undefined) throw new InvalidConfigError(`${names} go together: give both or neither`);
  return [resolve(first), resolve(second)];
}

/** The security part of the settings: TLS, ACL and token files (paths made absolute), and --insecure. */
function securitySettings(flags: ServeFlags, env: NodeJS.ProcessEnv, file: ConfigFile, overrides: EnvironmentOverride[]): NonNullable<ServerConfigInput["security"]> {
  const pick = settingPicker(env, overrides);
  const tls = pair(pick(flags["tls-cert"], "LOGHOUSE_TLS_CERT", file.tlsCert), pick(flags["tls-key"], "LOGHOUSE_TLS_KEY", file.tlsKey), "--tls-cert and --tls-key");
  const ca = pick(flags["tls-ca"], "LOGHOUSE_TLS_CA", file.tlsCa);
  if (ca !== undefined && tls === undefined) throw new InvalidConfigError("--tls-ca verifies client certificates: it needs --tls-cert and --tls-key");
  const acl = pair(pick(flags["acl-model"], "LOGHOUSE_ACL_MODEL", file.aclModel), pick(flags["acl-policy"], "LOGHOUSE_ACL_POLICY", file.aclPolicy), "--acl-model and --acl-policy");
  const tokens = pick(flags.tokens, "LOGHOUSE_TOKENS", file.tokens);
  // The first source that says, as for every setting (the flag can only say yes).
  const insecureFromEnv = booleanEnvironment(env, "LOGHOUSE_INSECURE");
  if (flags.insecure !== true && insecureFromEnv !== undefined && file.insecure !== undefined && insecureFromEnv !== file.insecure) {
    overrides.push({ variable: "LOGHOUSE_INSECURE", value: String(insecureFromEnv), configFileValue: String(file.insecure) });
  }
  const insecure = flags.insecure === true || (insecureFromEnv ?? file.insecure === true);
  return {
    ...(tls === undefined ? {} : { tls: { certFile: tls[0], keyFile: tls[1], caFile: ca === undefined ? undefined : resolve(ca) } }),
    ...(acl === undefined ? {} : { acl: { modelFile: acl[0], policyFile: acl[1] } }),
    ...(tokens === undefined ? {} : { tokensFile: resolve(tokens) }),
    insecure,
  };
}

type Autopilot = Pick<ClusterGossipSettings, "deadMemberTimeoutMs" | "minVoters">;

/**
 * When the leader removes a member gossip reports dead. Checked on a node alone too, where they do
 * nothing yet, so that a bad value is refused when given rather than when the node first joins.
 */
function autopilotSettings(flags: ServeFlags, env: NodeJS.ProcessEnv, file: ConfigFile, overrides: EnvironmentOverride[]): Autopilot {
  const pick = settingPicker(env, overrides);
  return {
    deadMemberTimeoutMs: pick(flags["dead-member-timeout"], "LOGHOUSE_DEAD_MEMBER_TIMEOUT", file.deadMemberTimeout, deadMemberTimeoutSetting) ?? DEFAULT_DEAD_MEMBER_TIMEOUT_MS,
    minVoters: pick(flags["min-voters"], "LOGHOUSE_MIN_VOTERS", file.minVoters === undefined ? undefined : String(file.minVoters), minVotersSetting) ?? DEFAULT_MIN_VOTERS,
  };
}

/** --dead-member-timeout in ms: at least a second (a plain number is milliseconds, and "60" would remove a voter gossip thinks dead at once). */
function deadMemberTimeoutSetting(text: string): number {
  const ms = parseDurationMs(text);
  if (ms === undefined || ms < 1000) throw new InvalidConfigError(`--dead-member-timeout must be a duration of at least 1s, such as 60s or 5m, got ${text}`);
  return ms;
}

function minVotersSetting(text: string): number {
  const minVoters = integerSetting("min-voters", text);
  if (minVoters < 1 || minVoters > MIN_VOTERS_MAX) throw new InvalidConfigError(`--min-voters must be from 1 to ${MIN_VOTERS_MAX}, got ${minVoters}`);
  return minVoters;
}

/**
 * The gossip part of a member's settings. A secured cluster (TLS) seals its gossip with a key; without
 * TLS, plaintext off loopback needs --insecure anyway (resolveServerConfig refuses it otherwise).
 */
function gossipSettings(flags: ServeFlags, env: NodeJS.ProcessEnv, file: ConfigFile, tls: boolean, overrides: EnvironmentOverride[], autopilot: Autopilot): ClusterGossipSettings {
  const pick = settingPicker(env, overrides);
  const keyFile = pick(flags["gossip-key"], "LOGHOUSE_GOSSIP_KEY", file.gossipKey);
  if (tls && keyFile === undefined) throw new InvalidConfigError("a cluster with TLS seals its gossip too: give --gossip-key FILE (32 bytes, raw or base64; the same file on every member)");
  const config = file.gossip ?? {};
  rejectUnknownKeys(config, defaultGossipConfig, "key in the config file's gossip");
  validateGossipConfig({ ...defaultGossipConfig, ...(config as Partial<GossipConfig>) });
  return { keyFile: keyFile === undefined ? undefined : resolve(keyFile), config: config as Partial<GossipConfig>, ...autopilot };
}

/** Merges flags, environment and config file into the server's input (validated by the server). */
export async function resolveServeSettings(flags: ServeFlags, env: NodeJS.ProcessEnv): Promise<ServeSettings> {
  const configPath = flags.config ?? env.LOGHOUSE_CONFIG;
  const file = configPath === undefined ? {} : await readConfigFile(configPath);
  const overrides: EnvironmentOverride[] = [];
  const pick = settingPicker(env, overrides);
  const { host, port } = pick(flags.listen, "LOGHOUSE_LISTEN", file.listen, (value) => parseHostPort(value, "listen")) ?? { host: DEFAULT_HOST, port: DEFAULT_PORT };
  const logLevel = pick(flags["log-level"], "LOGHOUSE_LOG_LEVEL", file.logLevel, (value): LogLevel => {
    if (!isLogLevel(value)) throw new InvalidConfigError(`log level must be debug, info, warn or error, got ${value}`);
    return value;
  }) ?? "info";
  // The config file's own values are named too, so that a variable overriding one is reported (the
  // chart sets LOGHOUSE_DURABILITY); the file's log section is taken whole below, as before.
  const fileLog = (name: string): string | undefined => (file.log?.[name] === undefined ? undefined : String(file.log[name]));
  const durability = pick(flags.durability, "LOGHOUSE_DURABILITY", fileLog("durability"), (value) => resolveLogConfig({ durability: value as DurabilityPolicy }).durability);
  const retentionBytes = pick(flags["retention-bytes"], "LOGHOUSE_RETENTION_BYTES", fileLog("retentionBytes"), (value) => retentionSetting("retentionBytes", value));
  const retentionMs = pick(flags["retention-ms"], "LOGHOUSE_RETENTION_MS", fileLog("retentionMs"), (value) => retentionSetting("retentionMs", value));
  const log = {
    ...file.log,
    ...(durability === undefined ? {} : { durability }),
    ...(retentionBytes === undefined ? {} : { retentionBytes }),
    ...(retentionMs === undefined ? {} : { retentionMs }),
  };
  const nodeId = pick(flags["node-id"], "LOGHOUSE_NODE_ID", file.nodeId);
  if (nodeId !== undefined && !isNodeName(nodeId)) {
    // A bad flag is a usage error (exit 2); a bad environment variable or config file, a configuration error.
    const source = flags["node-id"] !== undefined ? "--node-id" : env.LOGHOUSE_NODE_ID !== undefined ? "LOGHOUSE_NODE_ID" : "nodeId";
    const message = `${source} must be a node name, ${NODE_NAME_RULE}; got ${JSON.stringify(nodeId)}`;
    throw source === "--node-id" ? new UsageError(message) : new InvalidConfigError(message);
  }
  // Checked now: a member found a bad one only once its state was written, and a single node reported it as given.
  const advertise = pick(flags.advertise, "LOGHOUSE_ADVERTISE", file.advertise, (value) => {
    parseHostPort(value, "advertise");
    return value;
  });
  const dataDir = resolve(pick(flags["data-dir"], "LOGHOUSE_DATA_DIR", file.dataDir) ?? DEFAULT_DATA_DIR);
  const join = pick(flags.join, "LOGHOUSE_JOIN", file.join, joinSetting);
  const resuming = await RaftStateFile.existsIn(dataDir);
  // Both flags are a contradiction; --bootstrap beside a join list from LOGHOUSE_JOIN or the config
  // file would make a second cluster, unless the node has its state already (--bootstrap is then ignored).
  if (flags.bootstrap === true && (flags.join !== undefined || (join !== undefined && !resuming))) {
    throw new InvalidConfigError("--bootstrap starts a new cluster and --join (or LOGHOUSE_JOIN, or join in the config file) enters one: give one of them");
  }
  const clustered = flags.bootstrap === true || join !== undefined || resuming;
  const autopilot = autopilotSettings(flags, env, file, overrides);
  if (clustered && !resuming && (await Log.existsIn(dataDir))) {
    throw new InvalidConfigError(`${dataDir} holds a single node's log, which a cluster member would not serve (it keeps its own in ${RaftStateFile.logDirOf(dataDir)}): give a new --data-dir`);
  }
  const security = securitySettings(flags, env, file, overrides);
  const tracesUrl = pick(flags["otlp-endpoint"], "LOGHOUSE_OTLP_ENDPOINT", file.otlpEndpoint, otlpTracesUrl);
  return {
    logLevel,
    overrides,
    ...(tracesUrl === undefined ? {} : { otlpTracesUrl: tracesUrl }),
    ...(clustered ? { cluster: { name: clusterNodeName(nodeId), bootstrap: flags.bootstrap === true, join: join ?? [], gossip: gossipSettings(flags, env, file, security.tls !== undefined, overrides, autopilot) } } : {}),
    input: {
      dataDir,
      host,
      port,
      ...(nodeId === undefined ? {} : { nodeId }),
      ...(advertise === undefined ? {} : { advertiseAddress: advertise }),
      ...(file.limits === undefined ? {} : { limits: file.limits }),
      ...(file.producers === undefined ? {} : { producers: file.producers }),
      log,
      security,
    } as ServerConfigInput,
  };
}

/**
 * glibc malloc's thresholds for a node (native/allocator.cc): blocks below 32 MiB (the most glibc
 * allows; messages are at most messageBytesMax, 8 MiB by default) come from the heap and are used
 * again, and the heap gives memory back once 64 MiB of it is free at its top. With 16 MiB the heap
 * shrank and grew again under load: a 3-node cluster under 1 kB-record batches fell to 27-60k
 * records/s, against 51-60k untuned and 63-69k at 64 MiB (peak RSS alike, 140-210 MB a node). An
 * operator's own thresholds (MALLOC_MMAP_THRESHOLD_, MALLOC_TRIM_THRESHOLD_, or either in
 * GLIBC_TUNABLES) are left to stand.
 */
const MMAP_THRESHOLD_BYTES = 32 << 20;
const TRIM_THRESHOLD_BYTES = 64 << 20;

/** Runs a node until SIGTERM or SIGINT; resolves with the exit code. */
export async function serve(flags: ServeFlags): Promise<number> {
  const settings = await resolveServeSettings(flags, process.env);
  const logger = jsonLogger(undefined, settings.logLevel);
  tuneAllocator(logger);
  for (const name of unknownEnvironmentNames(process.env)) {
    logger.warn("unknown environment variable ignored: if it was meant as a setting (misspelt?), that setting is not set", { name });
  }
  for (const override of settings.overrides) {
    logger.warn("an environment variable overrides the config file (flags, then environment, then the config file): set the variable, or a flag, to change it", { ...override });
  }
  const tracer = settings.otlpTracesUrl === undefined ? undefined : await startTracing({ tracesUrl: settings.otlpTracesUrl, nodeId: String(settings.cluster?.name ?? settings.input.nodeId ?? "loghouse"), logger });
  const traced = tracer === undefined ? {} : { tracer };
  const server = settings.cluster === undefined ? await LoghouseServer.start(settings.input, { logger, ...traced }) : await serveClusterMember(settings, logger, tracer);
  return new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn("second signal: exiting without draining", { signal });
        resolveExit(1);
        return;
      }
      stopping = true;
      logger.info("signal received", { signal });
      // The spans of the last calls are sent once the server has drained.
      server.close().then(() => tracer?.shutdown()).then(
        () => resolveExit(0),
        (error: unknown) => {
          logger.error("shutdown failed", { error });
          resolveExit(1);
        },
      );
    };
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
    // SIGHUP reloads certificates, keys, the CA, the ACL and the tokens (they are also polled for change).
    process.on("SIGHUP", () => void server.reloadSecurity());
  });
}

/** Starts a cluster member: the Raft node first, then the server on its port, then the join. */
async function serveClusterMember(settings: ServeSettings, logger: Logger, tracer: Tracer | undefined): Promise<LoghouseServer> {
  const { name, bootstrap, join: contacts, gossip } = settings.cluster!;
  const config = resolveServerConfig({ ...settings.input, nodeId: name });
  const address = config.advertiseAddress ?? `${config.host}:${config.port}`;
  if (config.port === 0 && config.advertiseAddress === undefined) {
    throw new InvalidConfigError("a cluster member needs a fixed port (or --advertise): its peers dial it");
  }
  // One ProduceBatch is one Raft proposal (its records must get consecutive offsets), so the
  // cluster takes proposals as large as the largest batch the server admits.
  const { batchRecordsMax } = config.limits;
  // One registry for the node: its Raft member and log count into it, and its server exposes it.
  const metrics = new NodeMetrics();
  const member = await ClusterMember.open({
    dataDir: config.dataDir,
    name,
    address,
    bootstrap,
    joining: contacts.length > 0,
    log: config.log,
    // A batch's mark is one more entry of its proposal.
    limits: { proposalEntriesMax: batchRecordsMax + 1, uncommittedEntriesMax: Math.max(100_000, 4 * batchRecordsMax) },
    producers: producerTableFor(config.producers, config.security),
    gossip: {
      // UDP on the port number the node listens on (the advertised one's, when the port is picked).
      bindHost: config.host,
      ...(config.port === 0 ? {} : { port: config.port }),
      ...(gossip.keyFile === undefined ? {} : { key: await readGossipKey(gossip.keyFile) }),
      config: gossip.config,
      deadMemberTimeoutMs: gossip.deadMemberTimeoutMs,
      minVoters: gossip.minVoters,
    },
    logger,
    metrics,
  }, tracer);
  const server = await LoghouseServer.start({ ...settings.input, nodeId: name }, { logger, cluster: member, metrics, ...(tracer === undefined ? {} : { tracer }) });
  logger.info("cluster member", { name, nodeId: member.node.nodeId, address, bootstrap, join: contacts });
  await member.join(contacts, (error) => logger.warn("join failed", { error }));
  return server;
}

/** Tunes the memory allocator for a node, unless the operator set either threshold. */
function tuneAllocator(logger: Logger): void {
  const own = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"].filter((name) => process.env[name] !== undefined);
  if (/glibc\.malloc\.(mmap|trim)_threshold/.test(process.env.GLIBC_TUNABLES ?? "")) own.push("GLIBC_TUNABLES");
  if (own.length > 0) logger.info("malloc thresholds from the environment are kept; the node's own are not applied", { variables: own });
  else if (!native.tuneAllocator(MMAP_THRESHOLD_BYTES, TRIM_THRESHOLD_BYTES)) logger.debug("malloc could not be tuned (not glibc, or it refused the thresholds): left as it is");
}
