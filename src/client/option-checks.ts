// The clients' options are checked when the client or producer is made, and one refused names what
// was given: numeric options (deadlines, bounds, backoff, a producer's batching) are whole numbers
// with a floor, not a string, a fraction or null; a choice is one of its names, spelled exactly (a
// misspelt delivery guarantee must not quietly give a weaker one).
import { InvalidArgumentError } from "../errors.ts";

/**
 * The longest time a Node timer waits (about 24.8 days; a longer one fires at once), and so the
 * longest deadline, linger or backoff an option may ask for: grpc-js never settles a call whose
 * deadline is much further off.
 */
export const TIMER_MS_MAX = 2 ** 31 - 1;

/** `value`, the option `name`, if it is a safe integer in [`min`, `max`]; else InvalidArgumentError. */
export function integerOption(name: string, value: unknown, min: number, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= min && value <= max) return value;
  const range = max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`;
  throw new InvalidArgumentError(`${name} must be an integer ${range}, got ${describe(value)}`);
}

/** `value`, the option `name`, if it is one of `choices`; else InvalidArgumentError. */
export function choiceOption<T extends string>(name: string, value: unknown, choices: readonly T[]): T {
  if (choices.includes(value as T)) return value as T;
  throw new InvalidArgumentError(`${name} must be one of ${choices.map((choice) => JSON.stringify(choice)).join(", ")}, got ${describe(value)}`);
}

/** A given value as a reader would write it: a string quoted, anything but a number named by its type. */
export function describe(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return `${JSON.stringify(value)} (a string)`;
  return value === null ? "null" : `${String(value)} (${typeof value})`;
}
