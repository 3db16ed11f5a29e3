// The messages SWIM members exchange, as the core produces and consumes them (gossip-codec.ts puts them
// on the wire). Probes and their answers carry piggybacked updates; a sync carries whole member states.
import type { MemberState } from "./member.ts";

/**
 * A change to spread about one member. `alive` carries the member's metadata; `suspect` and `dead` name
 * the member that raised them (`from`); `left` is a member's own goodbye.
 */
export type Update =
  | { readonly kind: "alive"; readonly name: string; readonly incarnation: number; readonly address: string; readonly role: string }
  | { readonly kind: "suspect" | "dead"; readonly name: string; readonly incarnation: number; readonly from: string }
  | { readonly kind: "left"; readonly name: string; readonly incarnation: number };

/** One member's full state in a push-pull sync. */
export interface MemberRecord {
  readonly name: string;
  readonly address: string;
  readonly role: string;
  readonly state: MemberState;
  readonly incarnation: number;
}

/**
 * - ping: "are you `target`?", answered by an ack with the same seq;
 * - ping-req: "ping `target` at `address` for me", answered by an ack (relayed) or a nack (no answer);
 * - gossip: updates only, sent to a few members each gossip interval;
 * - sync: a part of the sender's member table; `replyWanted` asks for the receiver's table back.
 */
export type GossipMessage =
  | { readonly type: "ping"; readonly seq: number; readonly target: string; readonly updates: readonly Update[] }
  | { readonly type: "ping-req"; readonly seq: number; readonly target: string; readonly address: string; readonly updates: readonly Update[] }
  | { readonly type: "ack" | "nack"; readonly seq: number; readonly updates: readonly Update[] }
  | { readonly type: "gossip"; readonly updates: readonly Update[] }
  | { readonly type: "sync"; readonly replyWanted: boolean; readonly members: readonly MemberRecord[] };
