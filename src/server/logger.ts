// Structured logs: one JSON object per line ({"time", "level", "msg", ...fields}), written to a
// stream (stdout for a node). Errors become {name, message, code, stack} so they survive JSON.
import { LoghouseError } from "../errors.ts";
import type { Logger } from "../logger.ts";

export { silentLogger, type Logger } from "../logger.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && value in LEVELS;
}

function serialisable(value: unknown): unknown {
  if (value instanceof Error) {
    return {
      name: value.name,
      message: value.message,
      ...(value instanceof LoghouseError ? { code: value.code } : {}),
      ...(value.stack === undefined ? {} : { stack: value.stack }),
      ...(value.cause === undefined ? {} : { cause: serialisable(value.cause) }),
    };
  }
  if (typeof value === "bigint") return value.toString();
  return value;
}

export function jsonLogger(output: { write(line: string): unknown } = process.stdout, level: LogLevel = "info", base: Record<string, unknown> = {}): Logger {
  const threshold = LEVELS[level];
  const log = (entryLevel: LogLevel, msg: string, fields: Record<string, unknown> = {}): void => {
    if (LEVELS[entryLevel] < threshold) return;
    const entry: Record<string, unknown> = { time: new Date().toISOString(), level: entryLevel, msg, ...base };
    for (const [key, value] of Object.entries(fields)) entry[key] = serialisable(value);
    output.write(`${JSON.stringify(entry)}\n`);
  };
  return {
    debug: (msg, fields) => log("debug", msg, fields),
    info: (msg, fields) => log("info", msg, fields),
    warn: (msg, fields) => log("warn", msg, fields),
    error: (msg, fields) => log("error", msg, fields),
  };
}
