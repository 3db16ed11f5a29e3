// Structured logs through pino: one JSON object per line ({"level", "time", ...fields, "msg"}, the
// level as its name and the time as an ISO string), written synchronously to a stream (stdout for a
// node), so a node that exits has printed every line it logged. Errors become {name, message, code,
// stack, cause} and bigints strings, so both survive JSON.
import { pino, stdTimeFunctions, type DestinationStream } from "pino";
import { LoghouseError } from "../errors.ts";
import type { Logger } from "../logger.ts";

export { silentLogger, type Logger } from "../logger.ts";

export type LogLevel = "debug" | "info" | "warn" | "error";

const LEVELS: ReadonlySet<string> = new Set<LogLevel>(["debug", "info", "warn", "error"]);

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === "string" && LEVELS.has(value);
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

function serialisableFields(fields: Record<string, unknown>): Record<string, unknown> {
  const entry: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(fields)) entry[key] = serialisable(value);
  return entry;
}

/** A pino logger writing to `output` at `level` and above, with `base` in every line. */
export function jsonLogger(output: DestinationStream = pino.destination({ dest: 1, sync: true }), level: LogLevel = "info", base: Record<string, unknown> = {}): Logger {
  const logger = pino(
    {
      level,
      base,
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }), log: serialisableFields },
    },
    output,
  );
  return {
    debug: (msg, fields = {}) => logger.debug(fields, msg),
    info: (msg, fields = {}) => logger.info(fields, msg),
    warn: (msg, fields = {}) => logger.warn(fields, msg),
    error: (msg, fields = {}) => logger.error(fields, msg),
  };
}
