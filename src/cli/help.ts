// Help texts, built from the command table: one overview and one page per command.
import { COMMANDS, type CommandSpec } from "./commands.ts";

export function overview(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length));
  const lines = Object.entries(COMMANDS).map(([name, spec]) => `  ${name.padEnd(width)}  ${spec.summary}`);
  return [
    "usage: loghouse <command> [options]",
    "",
    ...lines,
    "",
    "loghouse <command> --help   options of one command",
    "loghouse --version          the installed version",
    "Exit codes: 0 ok, 1 runtime error, 2 usage error.",
    "",
  ].join("\n");
}

export function commandHelp(name: string, spec: CommandSpec): string {
  const flags = Object.entries(spec.options).map(([option, { type, value }]) => `--${option}${type === "string" ? ` ${value ?? "VALUE"}` : ""}`);
  const width = Math.max(0, ...flags.map((flag) => flag.length));
  const rows = Object.values(spec.options).map((option, i) => `  ${flags[i]!.padEnd(width)}  ${option.help}`);
  return [
    `usage: loghouse ${name} [options]${spec.positionals === undefined ? "" : ` ${spec.positionals}`}`,
    "",
    spec.summary,
    "",
    ...rows,
    ...(spec.notes === undefined ? [] : ["", ...spec.notes]),
    "",
  ].join("\n");
}
