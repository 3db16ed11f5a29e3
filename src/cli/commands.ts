// The `loghouse` commands as data: each command's summary, options and help, and the module that
// runs it, imported only when that command runs (so `loghouse --help` loads no RPC or storage code).
// An option group shared by several commands (the client's connection flags) is declared once:
// adding a flag to every client command (TLS, say) is one entry in CLIENT_OPTIONS.
import type { ServeFlags } from "./serve.ts";

export interface OptionSpec {
  readonly type: "string" | "boolean";
  /** Placeholder shown in help for a string option ("N", "HOST:PORT"). */
  readonly value?: string;
  readonly multiple?: boolean;
  readonly help: string;
}

export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The parsed flags a command receives: strings, booleans, or lists for `multiple` options. */
export type Flags = Readonly<Record<string, string | boolean | string[] | undefined>>;

export interface CommandSpec {
  readonly summary: string;
  /** What follows the options in the synopsis ("[FILE...]"); absent when the command takes no positionals. */
  readonly positionals?: string;
  readonly options: OptionTable;
  /** Lines printed after the options in the command's help. */
  readonly notes?: readonly string[];
  readonly run: (flags: Flags, positionals: readonly string[]) => Promise<number>;
}

const CLIENT_OPTIONS: OptionTable = {
  server: { type: "string", value: "HOST:PORT[,...]", help: "any members of the cluster: writes go to its leader, reads to its followers (env LOGHOUSE_SERVER; default 127.0.0.1:8400)" },
  timeout: { type: "string", value: "DURATION", help: "deadline for each call, retries included: 500ms, 10s, 2m or plain milliseconds (default 30s)" },
  "tls-ca": { type: "string", value: "FILE", help: "speak TLS, verifying the node against this CA (env LOGHOUSE_TLS_CA)" },
  "tls-cert": { type: "string", value: "FILE", help: "speak TLS with this client certificate, whose CN is your principal; with --tls-key (env LOGHOUSE_TLS_CERT)" },
  "tls-key": { type: "string", value: "FILE", help: "the client certificate's key (env LOGHOUSE_TLS_KEY)" },
  token: { type: "string", value: "TOKEN", help: "a bearer token the node maps to your principal (env LOGHOUSE_TOKEN)" },
  "cluster-id": { type: "string", value: "ID", help: "keep to this cluster (16 hex digits, as status shows): a node of another cluster refuses the calls (env LOGHOUSE_CLUSTER_ID; default: the one --server's members answer for)" },
};

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  serve: {
    summary: "run a node",
    options: {
      "data-dir": { type: "string", value: "DIR", help: "where the log lives (default ./data; env LOGHOUSE_DATA_DIR)" },
      listen: { type: "string", value: "HOST:PORT", help: "gRPC, gRPC-Web and Connect on one port (default 127.0.0.1:8400; env LOGHOUSE_LISTEN)" },
      "node-id": { type: "string", value: "NAME", help: "this node's name: letters, digits, '-', '_', '.', 1-63 characters, a pod name say (env LOGHOUSE_NODE_ID)" },
      advertise: { type: "string", value: "HOST:PORT", help: "address reported by GetServers and dialled by peers (env LOGHOUSE_ADVERTISE)" },
      durability: { type: "string", value: "MODE", help: "fsync (default), interval or none (env LOGHOUSE_DURABILITY)" },
      "retention-bytes": { type: "string", value: "N", help: "drop the oldest segments past N stored bytes (single node; env LOGHOUSE_RETENTION_BYTES)" },
      "retention-ms": { type: "string", value: "N", help: "drop segments whose records are all older than N ms (single node; env LOGHOUSE_RETENTION_MS)" },
      "log-level": { type: "string", value: "LEVEL", help: "debug, info (default), warn, error (env LOGHOUSE_LOG_LEVEL)" },
      config: { type: "string", value: "FILE", help: "JSON with any of dataDir, listen, nodeId, advertise, logLevel, otlpEndpoint, join, gossipKey, deadMemberTimeout, minVoters, gossip {...}, limits {...}, log {...} (env LOGHOUSE_CONFIG); flags and env win" },
      bootstrap: { type: "boolean", help: "start a new cluster with this node (needs --node-id)" },
      join: { type: "string", value: "HOST:PORT[,...]", help: "join the cluster through any of these members: gossip first, then admission by the leader (needs --node-id; env LOGHOUSE_JOIN)" },
      "gossip-key": { type: "string", value: "FILE", help: "the cluster's 32-byte gossip key, raw or base64, the same on every member; required with TLS (env LOGHOUSE_GOSSIP_KEY)" },
      "dead-member-timeout": { type: "string", value: "DURATION", help: "the leader removes a member gossip reports dead this long, quorum permitting (default 60s; env LOGHOUSE_DEAD_MEMBER_TIMEOUT)" },
      "min-voters": { type: "string", value: "N", help: "the leader never removes a dead voter below N voters (default 3; env LOGHOUSE_MIN_VOTERS)" },
      "tls-cert": { type: "string", value: "FILE", help: "serve TLS with this certificate (PEM) on the one port; with --tls-key (env LOGHOUSE_TLS_CERT)" },
      "tls-key": { type: "string", value: "FILE", help: "the certificate's private key (PEM; env LOGHOUSE_TLS_KEY)" },
      "tls-ca": { type: "string", value: "FILE", help: "verify client certificates against this CA; their CN is the caller's principal (env LOGHOUSE_TLS_CA)" },
      "acl-model": { type: "string", value: "FILE", help: "casbin model deciding every call (produce, consume, admin, replicate); with --acl-policy (env LOGHOUSE_ACL_MODEL)" },
      "acl-policy": { type: "string", value: "FILE", help: "casbin policy: p, PRINCIPAL, *, ACTION lines (env LOGHOUSE_ACL_POLICY)" },
      tokens: { type: "string", value: "FILE", help: "JSON of bearer token to principal, for callers without a certificate (env LOGHOUSE_TOKENS)" },
      insecure: { type: "boolean", help: "allow plaintext on a non-loopback address (env LOGHOUSE_INSECURE=true)" },
      "otlp-endpoint": { type: "string", value: "URL", help: "send traces of produce calls over OTLP/HTTP to URL/v1/traces (env LOGHOUSE_OTLP_ENDPOINT; default: no tracing)" },
    },
    notes: ["TLS, ACL and token files are reloaded when they change and on SIGHUP; connections in progress keep working."],
    run: async (flags) => (await import("./serve.ts")).serve(flags as ServeFlags),
  },
  produce: {
    summary: "append records read from FILEs (or stdin), in batches; prints the offsets as JSON",
    positionals: "[FILE...]",
    options: {
      ...CLIENT_OPTIONS,
      delimiter: { type: "string", value: "STR", help: "separates records in the input (default \\n; escapes \\n \\t \\r \\0 \\\\ and \\xHH)" },
      file: { type: "string", value: "PATH", multiple: true, help: "send the whole file as one record, bytes as they are (repeatable)" },
      format: { type: "string", value: "FORMAT", help: "how each delimited record is written: raw (default), base64, or json (a string, or {\"value\"} / {\"valueBase64\"} as consume --format json prints)" },
      "linger-ms": { type: "string", value: "N", help: "wait up to N ms to fill a batch (default 5)" },
      "batch-bytes": { type: "string", value: "N", help: "largest batch in bytes (default 1048576)" },
    },
    run: async (flags, positionals) => (await import("./produce.ts")).produce(flags, positionals),
  },
  consume: {
    summary: "print records, from an offset, a time or the end",
    options: {
      ...CLIENT_OPTIONS,
      from: { type: "string", value: "N|-N|start|end", help: "first offset; -N starts N records before the end (default start)" },
      "from-time": { type: "string", value: "TIME", help: "start at the first record created at or after TIME (ISO 8601 or ms since the epoch)" },
      follow: { type: "boolean", help: "wait for new records at the end until Ctrl-C" },
      count: { type: "string", value: "N", help: "stop after N records" },
      format: { type: "string", value: "FORMAT", help: "text (the value per line, default), json, or a template such as '{offset} {time} {value}'" },
    },
    notes: [
      "Template fields: {offset} {time} (ISO 8601) {timestampMs} {type} {value} (raw bytes) {valueBase64};",
      "escapes \\n \\t \\\\; a newline follows each record. text shows data records only, json and templates all.",
    ],
    run: async (flags) => (await import("./consume.ts")).consume(flags),
  },
  status: {
    summary: "print the node's health, members (role, liveness, term, lag) and offsets as JSON (exit 1 unless SERVING)",
    options: CLIENT_OPTIONS,
    run: async (flags) => (await import("./admin-commands.ts")).status(flags),
  },
  leave: {
    summary: "remove a member from its cluster (asked through any member)",
    options: { ...CLIENT_OPTIONS, "node-id": { type: "string", value: "NAME", help: "the member to remove, by name" } },
    run: async (flags) => (await import("./admin-commands.ts")).leave(flags),
  },
  "transfer-leader": {
    summary: "hand the cluster's leadership to another voter (before taking the leader down, say)",
    options: { ...CLIENT_OPTIONS, to: { type: "string", value: "NAME", help: "the voter to become leader, by name" } },
    run: async (flags) => (await import("./admin-commands.ts")).transferLeader(flags),
  },
  certs: {
    summary: "write development certificates (a CA, nodes, clients) and a sample ACL model and policy into DIR",
    positionals: "DIR",
    options: {
      nodes: { type: "string", value: "ID,...", help: "node ids: node-ID.pem with CN and a URI SAN naming the id, SANs 127.0.0.1 and localhost (default 1,2,3)" },
      clients: { type: "string", value: "NAME,...", help: "client principals: NAME-client.pem with CN = NAME (default root,nobody)" },
    },
    notes: ["Also writes ca.pem, model.conf and policy.csv (root may produce, consume and administer; each node may replicate), and gossip.key (--gossip-key)."],
    run: async (flags, positionals) => (await import("./certs.ts")).certs(flags, positionals),
  },
  scrub: {
    summary: "verify every record of a stopped node's log; print the damaged ranges as JSON",
    options: {
      "data-dir": { type: "string", value: "DIR", help: "the node's data directory (default: the config file's dataDir, else ./data; env LOGHOUSE_DATA_DIR)" },
      config: { type: "string", value: "FILE", help: "the node's config file, whose log settings (segment sizes) the log is opened with (env LOGHOUSE_CONFIG)" },
    },
    notes: [
      "Opening cuts a torn tail of the active segment as the node's start would (printed under \"recovery\"); a node's start also cuts a torn producer batch, which scrub leaves.",
      "Exit 0: no damage; 3: damage found; 1: the log could not be scrubbed (absent, or in use).",
    ],
    run: async (flags) => (await import("./scrub.ts")).scrubDataDir(flags as { readonly "data-dir"?: string; readonly config?: string }),
  },
};
