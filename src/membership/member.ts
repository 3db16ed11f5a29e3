// What the gossip layer knows about one member, and the events it reports when that changes. A member
// is named (its node name, unique in the cluster), reachable at its advertised address (host:port: the
// node's one port, which serves RPC over TCP and gossip over UDP on the same number) and has a role.

/** Alive answers probes; suspect missed one and may still refute; dead was confirmed failed; left said goodbye. */
export type MemberState = "alive" | "suspect" | "dead" | "left";

/** One member as reported to users of the gossip layer. */
export interface MemberView {
  readonly name: string;
  /** host:port, the node's advertised address (RPC over TCP, gossip over UDP). */
  readonly address: string;
  /** Free-form metadata, such as "voter" or "learner". */
  readonly role: string;
  readonly state: MemberState;
  /** The member's own counter for refuting suspicion: a higher incarnation overrides a lower one. */
  readonly incarnation: number;
}

/**
 * A change seen by this node. `joined` is a member seen for the first time (or again after it left or
 * was forgotten); `alive` a suspect or dead member that came back; `updated` new metadata of an alive
 * member; `synced` a full state exchange answered by `address` (what `join` waits for).
 */
export type MembershipEvent =
  | { readonly type: "joined" | "alive" | "suspect" | "dead" | "left" | "updated"; readonly member: MemberView }
  | { readonly type: "synced"; readonly address: string };

/** Limits on the strings a member carries, in UTF-8 bytes; the codec rejects anything longer. */
export const NAME_BYTES_MAX = 63;
export const ADDRESS_BYTES_MAX = 128;
export const ROLE_BYTES_MAX = 32;
