// What the RPC layer needs from a log. A single node serves its Log directly; a cluster member
// serves a ReplicatedLog (src/cluster), whose appends go through Raft and whose reads stop at the
// commit index. Both honour the same contracts as Log's methods of the same names.
import type { LogRecord } from "./frame.ts";
import type { GatheredValues } from "./gathered-values.ts";
import type { AppendOptions, ReadLimits } from "./record-log.ts";

/**
 * What an append knows of the call it serves (the RPC layer passes its call context): a cluster
 * member forwarding the append passes both on; a single node's Log has no use for them.
 */
export interface AppendCall {
  /** Aborts when the caller cancels or its deadline passes. */
  readonly signal?: AbortSignal;
  /** What is left of the caller's deadline now, in ms (undefined: none). */
  timeoutMs?(): number | undefined;
}

export interface ServedLog {
  readonly lowestOffset: number;
  readonly nextOffset: number;
  readonly highestOffset: number | undefined;
  /** Log's `options`, or a cluster member's `call`; the RPC layer passes a call. */
  append(values: readonly Uint8Array[], options?: AppendOptions & AppendCall): Promise<number>;
  /**
   * append for values gathered in one buffer, framed straight from it: offered by a log that stores
   * them so (a single node's Log). A cluster member's log proposes one Raft entry per value, so it
   * does not offer it, and the RPC layer hands it a view per value instead.
   */
  appendGathered?(batch: GatheredValues, options?: AppendOptions & AppendCall): Promise<number>;
  read(offset: number | bigint): LogRecord;
  readRange(offset: number | bigint, limits?: ReadLimits): LogRecord[];
  offsetForTime(ms: number): number | undefined;
  waitFor(offset: number, signal?: AbortSignal): Promise<void>;
  /**
   * Throws when the log may not be served now (a cluster member removed from its cluster), for
   * answers made of the offsets alone; reads and appends check for themselves.
   */
  assertServing?(): void;
}
