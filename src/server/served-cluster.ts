// What the server needs from a cluster member it serves: the replicated log, the members for
// GetServers, the connections of the cluster's own protocols (first byte 0x01 Raft, 0x02 admin),
// whether it serves as a member now, and a way to stop it once the RPCs have drained.
import type { Socket } from "node:net";
import type { PeerSecurity } from "../cluster/cluster-node.ts";
import type { Server_Liveness, Server_Role } from "../gen/log/v1/log_pb.ts";
import type { ProducerAppender, ServedLog } from "../storage/index.ts";

/** One member as GetServers answers it (the Server message's fields). */
export interface ServedMember {
  readonly id: string;
  readonly rpcAddr: string;
  readonly isLeader: boolean;
  readonly isVoter: boolean;
  readonly liveness: Server_Liveness;
  readonly role: Server_Role;
  readonly term: bigint;
  /** Unknown (undefined) except on the leader. */
  readonly lag: bigint | undefined;
}

export interface ServedCluster {
  /** The replicated log; its leader also appends idempotent producers' batches once. */
  readonly log: ServedLog & ProducerAppender;
  servers(): ServedMember[];
  /** The cluster's id (src/wire/cluster-id.ts), once this member knows it. */
  readonly clusterId: string | undefined;
  acceptConnection(socket: Socket): void;
  /** Removes a member (on the leader; a follower throws NotLeaderError); resolves once committed. */
  removeMember(member: string): Promise<void>;
  /** Hands the leadership to voter `member` (on the leader); resolves once this node stepped down. */
  transferLeadership(member: string): Promise<void>;
  /** Runs every connection between members over mutual TLS, authenticated by node certificate and authorized by the ACL. */
  usePeerSecurity(security: PeerSecurity): void;
  /**
   * Calls `listener` whenever the member stops or starts serving as one (and at once if it does not
   * serve now): it stops while it repairs damaged records from its peers (reads of those answer
   * DataLossError), and for good once it learns it was removed from the cluster (its log and
   * servers() then throw NodeRemovedError).
   */
  onServingChange(listener: (serving: boolean) => void): void;
  /** Why the member should get no traffic now (removed, repairing, no leader known), or undefined. */
  notReadyReason(): string | undefined;
  close(): Promise<void>;
}
