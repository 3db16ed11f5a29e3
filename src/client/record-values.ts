// The values a caller hands a client to append, checked before anything is encoded: a value that is
// not a Uint8Array (a string, say) was otherwise encoded as zeros, appended and acknowledged.
import { InvalidArgumentError } from "../errors.ts";

/** Throws InvalidArgumentError unless `value` is a Uint8Array (a Buffer is one). */
export function checkValue(value: unknown): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`a record value must be a Uint8Array, got ${kind(value)}`);
}

/** Throws InvalidArgumentError unless `values` is an array of Uint8Arrays, naming the first that is not. */
export function checkValues(values: unknown): asserts values is readonly Uint8Array[] {
  if (!Array.isArray(values)) throw new InvalidArgumentError(`values must be an array of Uint8Arrays, got ${kind(values)}`);
  for (let i = 0; i < values.length; i++) {
    const value: unknown = values[i];
    if (!(value instanceof Uint8Array)) throw new InvalidArgumentError(`values[${i}] must be a Uint8Array, got ${kind(value)}`);
  }
}

/** What was given instead: its type, or its class for an object; never the value, which can be megabytes. */
function kind(value: unknown): string {
  if (value === null || typeof value !== "object") return value === null ? "null" : typeof value;
  return `an object of class ${value.constructor?.name ?? "none"}`;
}
