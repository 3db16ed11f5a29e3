// The loghouse.admin.v1.Admin service of a cluster member: an operator's changes to the cluster,
// authorized (admin) by the same check as every RPC, answered by the leader (a follower refuses with
// NotLeaderError naming the leader, and the caller asks it).
import { InvalidArgumentError } from "../errors.ts";
import type { Admin } from "../gen/loghouse/admin/v1/admin_pb.ts";
import type { ServiceHandlers } from "./call-context.ts";
import type { ServedCluster } from "./served-cluster.ts";

function nodeIdOf(value: bigint): number {
  if (value <= 0n || value > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError(`node_id must be a positive node id, got ${value}`);
  return Number(value);
}

export function createAdminService(cluster: ServedCluster): ServiceHandlers<typeof Admin> {
  return {
    async removeMember(request) {
      await cluster.removeMember(nodeIdOf(request.nodeId));
      return {};
    },
    async transferLeadership(request) {
      await cluster.transferLeadership(nodeIdOf(request.nodeId));
      return {};
    },
  };
}
