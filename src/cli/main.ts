// The `loghouse` command: serve a node, or produce to, consume from and inspect one.
import { parseArgs } from "node:util";
import { LoghouseError } from "../errors.ts";
import { consume, leave, produce, status } from "./client-commands.ts";
import { scrubDataDir } from "./scrub.ts";
import { serve } from "./serve.ts";

const USAGE = `usage: loghouse <command> [options]

  serve     run a node
              --data-dir DIR       where the log lives (default ./data; env LOGHOUSE_DATA_DIR)
              --listen HOST:PORT   gRPC, gRPC-Web and Connect on one port (default 127.0.0.1:8400; env LOGHOUSE_LISTEN)
              --node-id ID         this node's id (env LOGHOUSE_NODE_ID)
              --advertise HOST:PORT  address reported by GetServers (env LOGHOUSE_ADVERTISE)
              --durability MODE    fsync (default), interval or none (env LOGHOUSE_DURABILITY)
              --retention-bytes N  drop the oldest segments past N stored bytes (single node; env LOGHOUSE_RETENTION_BYTES)
              --retention-ms N     drop segments whose records are all older than N ms (single node; env LOGHOUSE_RETENTION_MS)
              --log-level LEVEL    debug, info (default), warn, error (env LOGHOUSE_LOG_LEVEL)
              --config FILE        JSON with any of dataDir, listen, nodeId, advertise, logLevel,
                                   limits {...}, log {...} (env LOGHOUSE_CONFIG); flags and env win
              --bootstrap          start a new cluster with this node (needs a numeric --node-id)
              --join HOST:PORT     join the cluster that node belongs to (needs a numeric --node-id)
  produce   append each line of FILEs (or stdin) as a record, in batches
              [--server HOST:PORT] [--linger-ms N] [--batch-bytes N] [FILE...]
  consume   print records: one value per line, or JSON with --format json
              [--server HOST:PORT] [--from N|start|end] [--follow] [--count N] [--format text|json]
  status    print the node's health, servers and offsets as JSON
              [--server HOST:PORT]
  leave     remove a member from its cluster (asked through any member)
              --node-id ID [--server HOST:PORT]
  scrub     verify every record of a stopped node's log; print the damaged ranges as JSON
              [--data-dir DIR]     (exit 0: none, 1: damage found, 2: could not scrub)

Client commands use --server, else LOGHOUSE_SERVER, else 127.0.0.1:8400.
`;

const options = {
  "data-dir": { type: "string" },
  listen: { type: "string" },
  "node-id": { type: "string" },
  advertise: { type: "string" },
  config: { type: "string" },
  "log-level": { type: "string" },
  durability: { type: "string" },
  "retention-bytes": { type: "string" },
  "retention-ms": { type: "string" },
  bootstrap: { type: "boolean" },
  join: { type: "string" },
  server: { type: "string" },
  "linger-ms": { type: "string" },
  "batch-bytes": { type: "string" },
  from: { type: "string" },
  follow: { type: "boolean" },
  count: { type: "string" },
  format: { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

const commandOptions: Record<string, readonly string[]> = {
  serve: ["data-dir", "listen", "node-id", "advertise", "config", "log-level", "durability", "retention-bytes", "retention-ms", "bootstrap", "join"],
  produce: ["server", "linger-ms", "batch-bytes"],
  consume: ["server", "from", "follow", "count", "format"],
  status: ["server"],
  leave: ["server", "node-id"],
  scrub: ["data-dir"],
};

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    process.stdout.write(USAGE);
    return command === undefined ? 2 : 0;
  }
  const allowed = commandOptions[command];
  if (allowed === undefined) return usageError(`unknown command: ${command}`);
  let parsed: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: [...rest], options, allowPositionals: true, strict: true });
  } catch (error) {
    return usageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help === true) {
    process.stdout.write(USAGE);
    return 0;
  }
  const misplaced = Object.keys(values).find((name) => !allowed.includes(name));
  if (misplaced !== undefined) return usageError(`--${misplaced} does not apply to ${command}`);
  if (command !== "produce" && positionals.length > 0) return usageError(`unexpected argument: ${positionals[0]}`);
  switch (command) {
    case "serve":
      return serve(values);
    case "produce":
      return produce(values, positionals);
    case "consume":
      return consume(values);
    case "leave":
      return leave(values);
    case "scrub":
      return scrubDataDir(values);
    default:
      return status(values);
  }
}

function usageError(message: string): number {
  process.stderr.write(`loghouse: ${message}\n\n${USAGE}`);
  return 2;
}

function describeError(error: unknown): string {
  if (error instanceof LoghouseError) return JSON.stringify({ error: error.code, message: error.message });
  return JSON.stringify({ error: "UNEXPECTED", message: String((error as Error)?.stack ?? error) });
}

// A closed stdout (e.g. `loghouse consume | head`) ends the command quietly.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`loghouse: ${describeError(error)}\n`);
    process.exit(1);
  },
);
