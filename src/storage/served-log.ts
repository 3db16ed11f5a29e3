// What the RPC layer needs from a log. A single node serves its Log directly; a cluster member
// serves a ReplicatedLog (src/cluster), whose appends go through Raft and whose reads stop at the
// commit index. Both honour the same contracts as Log's methods of the same names.
import type { AppendOptions, ReadLimits } from "./log.ts";
import type { LogRecord } from "./frame.ts";

export interface ServedLog {
  readonly lowestOffset: number;
  readonly nextOffset: number;
  readonly highestOffset: number | undefined;
  append(values: readonly Uint8Array[], options?: AppendOptions): Promise<number>;
  read(offset: number | bigint): LogRecord;
  readRange(offset: number | bigint, limits?: ReadLimits): LogRecord[];
  offsetForTime(ms: number): number | undefined;
  waitFor(offset: number, signal?: AbortSignal): Promise<void>;
}
