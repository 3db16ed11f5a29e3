// The read calls' arguments, checked and shaped once for both clients. An offset or a time is a whole
// number from 0 to 2^64 - 1 (as a number, a safe integer); the bounds of a read are whole numbers the
// wire's u32 holds. Anything else is refused with InvalidArgumentError before a call is made (it
// failed as an RpcError "serialization failure", or a RangeError or SyntaxError from BigInt).
import { InvalidArgumentError } from "../errors.ts";
import type { ReadOptions } from "./consume-loop.ts";
import { describe, integerOption } from "./option-checks.ts";

const U64_MAX = 2n ** 64n - 1n;
const U32_MAX = 2 ** 32 - 1;

/** `value` (the argument `name`) as a u64, or InvalidArgumentError. */
export function u64Argument(name: string, value: unknown): bigint {
  if (typeof value === "bigint" && value >= 0n && value <= U64_MAX) return value;
  if (typeof value === "number" && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new InvalidArgumentError(`${name} must be an integer from 0 to 2^64 - 1, got ${describe(value)}`);
}

/** The bounds of a read (0: the server's), checked. */
export function readBounds(options: ReadOptions): { maxRecords: number; maxBytes: number } {
  return { maxRecords: integerOption("maxRecords", options.maxRecords ?? 0, 0, U32_MAX), maxBytes: integerOption("maxBytes", options.maxBytes ?? 0, 0, U32_MAX) };
}

/** A ConsumeBatch request: a fetch from `offset`, waiting up to maxWaitMs at the end of the log. */
export function fetchRequest(offset: unknown, options: ReadOptions & { maxWaitMs?: number }): { offset: bigint; maxRecords: number; maxBytes: number; maxWaitMs: number } {
  return { offset: u64Argument("offset", offset), ...readBounds(options), maxWaitMs: integerOption("maxWaitMs", options.maxWaitMs ?? 0, 0, U32_MAX) };
}
