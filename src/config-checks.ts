// The checks every layer's configuration shares (the storage's, the transport's, the server's, the
// node's config file): an InvalidConfigError names the field and what was wrong with it.
import { InvalidConfigError } from "./errors.ts";

/** `value` if it is an integer in [min, max]; else an InvalidConfigError naming `name`. */
export function requireInteger(name: string, value: unknown, min: number, max: number): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new InvalidConfigError(`${name} must be an integer in [${min}, ${max}], got ${String(value)}`);
  }
  return value;
}

/**
 * Throws InvalidConfigError (`unknown WHAT: KEY`) for the first key of `given` that `known` (a set of
 * names, or an object of defaults: its own keys) does not have. A misspelt setting is an error, never
 * a default silently kept; own keys only, so `constructor` or `toString` is unknown too.
 */
export function rejectUnknownKeys(given: object, known: ReadonlySet<string> | object, what: string): void {
  for (const key of Object.keys(given)) {
    const isKnown = known instanceof Set ? known.has(key) : Object.hasOwn(known, key);
    if (!isKnown) throw new InvalidConfigError(`unknown ${what}: ${key}`);
  }
}
