// A run: consecutive Raft entries that share term, type and creation time. The log stores a run as
// one full frame and compact ones, and the transport sends it with one header.
import type { Entry } from "../raft/index.ts";

/** Whether `b` can follow `a` in one run (an absent time matches only another absent time). */
export function sameRun(a: Entry, b: Entry): boolean {
  return a.term === b.term && a.type === b.type && (a.timestampMs ?? 0) === (b.timestampMs ?? 0);
}
