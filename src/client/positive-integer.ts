// The client's time options (deadlines, bounds, backoff) are whole milliseconds above zero; one
// given as a string or a fraction is refused when the client is made, naming what was given.
import { InvalidArgumentError } from "../errors.ts";

/** Throws InvalidArgumentError unless `value`, the option `name`, is a positive safe integer. */
export function checkPositiveInteger(name: string, value: unknown): void {
  if (typeof value === "number" && Number.isSafeInteger(value) && value > 0) return;
  const given = typeof value === "string" ? JSON.stringify(value) : String(value);
  throw new InvalidArgumentError(`${name} must be a positive integer, got ${given}${typeof value === "number" ? "" : ` (a ${typeof value})`}`);
}
