// A duration as the command line takes it: "500ms", "10s", "2m", or plain milliseconds.

/** `text` in milliseconds, or undefined when it is not a whole duration. */
export function parseDurationMs(text: string): number | undefined {
  const match = /^(\d+)(ms|s|m)?$/.exec(text);
  if (match === null) return undefined;
  const value = Number(match[1]) * { ms: 1, s: 1000, m: 60_000 }[match[2] ?? "ms"]!;
  return Number.isSafeInteger(value) ? value : undefined;
}
