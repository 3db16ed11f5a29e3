/**
 * Always-on assertions for the Raft core.
 *
 * A failed assertion means a programmer error (a broken invariant), never an operating error: it throws
 * an `AssertionError` that callers must not catch and handle. Operating errors (not leader, a change
 * already pending, ...) are returned as typed results instead.
 */
export class AssertionError extends Error {
  override readonly name = "AssertionError";
}

/** Throws an `AssertionError` carrying `message` unless `condition` holds. */
export function assert(condition: boolean, message: string): asserts condition {
  if (!condition) {
    throw new AssertionError(message);
  }
}

/** Asserts that `value` is a non-negative safe integer (an index, a term, a count or a size). */
export function assertNatural(value: number, what: string): void {
  if (!Number.isSafeInteger(value) || value < 0) {
    throw new AssertionError(`${what} must be a non-negative safe integer, got ${value}`);
  }
}

/** Marks code that a well-typed switch can never reach. */
export function unreachable(value: never): never {
  throw new AssertionError(`unreachable: ${String(value)}`);
}
