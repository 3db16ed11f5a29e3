// The `loghouse` command: serve a node, or produce to, consume from and administer one. This file
// only parses and dispatches; a command's module is imported when it runs. Exit codes: 0 ok,
// 1 runtime error, 2 usage error (unknown command or option, a malformed value).
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { LoghouseError, UsageError } from "../errors.ts";
import { COMMANDS, type CommandSpec, type Flags } from "./commands.ts";
import { errorLine } from "./error-line.ts";
import { commandHelp, overview } from "./help.ts";

function version(): string {
  // src/cli/main.ts and dist/cli/main.js both sit two folders below the package root.
  return (JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;
}

/**
 * `--from -5` reads to parseArgs as an option missing its value; join such a negative number to the
 * string option before it (`--from=-5`) so that relative offsets need no `=`.
 */
function joinNegativeValues(spec: CommandSpec, args: readonly string[]): string[] {
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const option = arg.startsWith("--") ? spec.options[arg.slice(2)] : undefined;
    const next = args[i + 1];
    if (option?.type === "string" && next !== undefined && /^-\d+$/.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

function parseCommandLine(name: string, spec: CommandSpec, args: readonly string[]): { flags: Flags; positionals: string[]; help: boolean } {
  const options = { ...spec.options, help: { type: "boolean", short: "h" } } as const;
  try {
    const { values, positionals } = parseArgs({ args: joinNegativeValues(spec, args), options, allowPositionals: true, strict: true });
    if (spec.positionals === undefined && positionals.length > 0) throw new UsageError(`unexpected argument: ${positionals[0]}`);
    const { help, ...flags } = values as Record<string, string | boolean | string[] | undefined>;
    return { flags, positionals, help: help === true };
  } catch (error) {
    if (error instanceof UsageError) throw error;
    // parseArgs explains itself at length; its first sentence is the useful part.
    throw new UsageError(`${(error as Error).message.split(". ")[0]!.replace(/\.$/, "")} (see loghouse ${name} --help)`);
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined) {
    process.stderr.write(overview());
    return 2;
  }
  if (command === "--help" || command === "-h" || command === "help") {
    const spec = rest[0] === undefined ? undefined : COMMANDS[rest[0]];
    if (rest[0] !== undefined && spec === undefined) throw new UsageError(`unknown command: ${rest[0]} (see loghouse --help)`);
    process.stdout.write(spec === undefined ? overview() : commandHelp(rest[0]!, spec));
    return 0;
  }
  if (command === "--version" || command === "-V" || command === "version") {
    process.stdout.write(`${version()}\n`);
    return 0;
  }
  const spec = Object.hasOwn(COMMANDS, command) ? COMMANDS[command] : undefined;
  if (spec === undefined) throw new UsageError(`unknown command: ${command} (see loghouse --help)`);
  const { flags, positionals, help } = parseCommandLine(command, spec, rest);
  if (help) {
    process.stdout.write(commandHelp(command, spec));
    return 0;
  }
  return spec.run(flags, positionals);
}

// A failure nothing can go on from (a cluster member's failed write stops it) is one line, as any
// failed command's is: the typed error's code and message; anything else keeps its stack.
process.on("uncaughtException", (error: unknown) => {
  process.stderr.write(error instanceof LoghouseError ? `loghouse: ${errorLine(error)}\n` : `${(error as Error)?.stack ?? String(error)}\n`);
  process.exit(1);
});

// grpc-js names the TLS server it dials by the host dialled, and Node warns (DEP0123) when that is an
// IP address, as nodes' addresses usually are: a warning about the library's choice, printed on every
// command over TLS, that its user can do nothing about. Only that one is dropped.
const emitWarning = process.emitWarning.bind(process) as (...args: unknown[]) => void;
process.emitWarning = ((...args: unknown[]) => {
  const [, typeOrOptions, code] = args;
  if ((typeof typeOrOptions === "object" && (typeOrOptions as { code?: string } | null)?.code === "DEP0123") || code === "DEP0123") return;
  emitWarning(...args);
}) as typeof process.emitWarning;

// A closed stdout (e.g. `loghouse consume | head`) ends the command quietly.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`loghouse: ${errorLine(error)}\n`);
    process.exit(error instanceof UsageError ? 2 : 1);
  },
);
