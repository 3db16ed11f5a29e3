import { decodeMembershipChange, describeMembershipChange } from "./membership.ts";
import { MessageType, type Message } from "./message.ts";
import type { Ready } from "./ready.ts";
import { EntryType, type Entry, type HardState, type Membership, type SnapshotPoint } from "./types.ts";

/**
 * One-line, stable text for entries, messages and Readies: used by the scenario tests' golden files
 * and the simulator's traces, so changing it means regenerating both.
 */
const textDecoder = new TextDecoder();

export function describeEntry(entry: Entry): string {
  const at = `${entry.term}/${entry.index}`;
  switch (entry.type) {
    case EntryType.NoOp:
      return `${at} noop`;
    case EntryType.Membership:
      return `${at} membership(${describeMembershipChange(decodeMembershipChange(entry.data))})`;
    case EntryType.Normal:
      return `${at} ${JSON.stringify(textDecoder.decode(entry.data))}`;
    case EntryType.BatchMark:
      return `${at} mark(${entry.data.length} bytes)`;
  }
}

export function describeEntries(entries: readonly Entry[]): string {
  return `[${entries.map(describeEntry).join(", ")}]`;
}

export function describeMembership(membership: Membership): string {
  const learners = membership.learners.length > 0 ? ` learners=(${membership.learners.join(",")})` : "";
  return `voters=(${membership.voters.join(",")})${learners}`;
}

export function describeSnapshot(snapshot: SnapshotPoint): string {
  return `index=${snapshot.index} term=${snapshot.term} ${describeMembership(snapshot.membership)}`;
}

export function describeHardState(state: HardState): string {
  return `term=${state.term} vote=${state.vote} commit=${state.commit}`;
}

export function describeMessage(m: Message): string {
  const head = `${m.from}->${m.to} ${m.type} term=${m.term}`;
  switch (m.type) {
    case MessageType.Append:
      return `${head} prev=${m.logTerm}/${m.index} commit=${m.commit} entries=${describeEntries(m.entries)}`;
    case MessageType.AppendResponse:
      if (m.reject) return `${head} reject index=${m.index} hint=${m.logTerm}/${m.rejectHint}`;
      return `${head} index=${m.index}`;
    case MessageType.Heartbeat:
      return `${head} commit=${m.commit}`;
    case MessageType.Vote:
    case MessageType.PreVote:
      return `${head} last=${m.logTerm}/${m.index}${m.transfer ? " transfer" : ""}`;
    case MessageType.VoteResponse:
    case MessageType.PreVoteResponse:
      return `${head}${m.reject ? " reject" : " granted"}`;
    case MessageType.Snapshot:
      return `${head} snapshot=(${m.snapshot === null ? "none" : describeSnapshot(m.snapshot)})`;
    case MessageType.HeartbeatResponse:
    case MessageType.TimeoutNow:
      return head;
  }
}

/** A multi-line description of a Ready, indented by `indent`. */
export function describeReady(ready: Ready, indent: string): string[] {
  const lines: string[] = [];
  if (ready.softState !== null) lines.push(`${indent}lead=${ready.softState.lead} role=${ready.softState.role}`);
  if (ready.hardState !== null) lines.push(`${indent}HardState ${describeHardState(ready.hardState)}`);
  if (ready.snapshot !== null) lines.push(`${indent}Snapshot ${describeSnapshot(ready.snapshot)}`);
  if (ready.entries.length > 0) lines.push(`${indent}Entries ${describeEntries(ready.entries)}${ready.mustSync ? "" : " (no sync)"}`);
  if (ready.committedEntries.length > 0) lines.push(`${indent}Committed ${describeEntries(ready.committedEntries)}`);
  for (const m of ready.messages) lines.push(`${indent}Send ${describeMessage(m)}`);
  for (const m of ready.messagesAfterPersist) lines.push(`${indent}Send after persist ${describeMessage(m)}`);
  return lines;
}
