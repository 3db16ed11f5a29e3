// The clients' numeric options (deadlines, bounds, backoff, a producer's batching) are whole numbers
// with a floor; one given as a string, a fraction or null is refused when the client or producer is
// made, naming what was given.
import { InvalidArgumentError } from "../errors.ts";

/** `value`, the option `name`, if it is a safe integer >= `min`; else InvalidArgumentError. */
export function integerOption(name: string, value: unknown, min: number): number {
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= min) return value;
  throw new InvalidArgumentError(`${name} must be an integer >= ${min}, got ${describe(value)}`);
}

/** A given value as a reader would write it: a string quoted, anything but a number named by its type. */
function describe(value: unknown): string {
  if (typeof value === "number") return String(value);
  if (typeof value === "string") return `${JSON.stringify(value)} (a string)`;
  return value === null ? "null" : `${String(value)} (${typeof value})`;
}
