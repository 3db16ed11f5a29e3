// What the server needs from a cluster member it serves: the replicated log, the members for
// GetServers, the connections of the cluster's own protocols (first byte 0x01 Raft, 0x02 admin),
// word that it was removed from the cluster, and a way to stop it once the RPCs have drained.
import type { Socket } from "node:net";
import type { ServedLog } from "../storage/index.ts";

export interface ServedMember {
  readonly id: string;
  readonly rpcAddr: string;
  readonly isLeader: boolean;
  readonly isVoter: boolean;
}

export interface ServedCluster {
  readonly log: ServedLog;
  servers(): ServedMember[];
  acceptConnection(socket: Socket): void;
  /**
   * Calls `listener` once the member learns it was removed from the cluster (at once if it already
   * knows). From then on it serves nothing of the cluster: its log and servers() throw NodeRemovedError.
   */
  onRemoved(listener: () => void): void;
  close(): Promise<void>;
}
