// The loghouse.admin.v1.Admin service: an operator's changes to the cluster, authorized (admin) by
// the same check as every RPC, answered by the leader (a follower refuses with NotLeaderError naming
// the leader, and the caller asks it). A node alone serves it too, refusing with NotClusteredError,
// so that an operator who points `leave` at it learns why rather than meeting an unknown method.
import { parseNodeName } from "../cluster/node-name.ts";
import { InvalidArgumentError, NotClusteredError } from "../errors.ts";
import type { Admin } from "../gen/loghouse/admin/v1/admin_pb.ts";
import type { ServiceHandlers } from "./call-context.ts";
import type { ServedCluster } from "./served-cluster.ts";

/** The member a request names: its name, else its node_id (a Raft id or a numeric name) as text. */
function memberOf(request: { readonly nodeId: bigint; readonly name: string }): string {
  if (request.name !== "") return parseNodeName(request.name);
  if (request.nodeId <= 0n || request.nodeId > BigInt(Number.MAX_SAFE_INTEGER)) throw new InvalidArgumentError(`node_id must be a positive node id, got ${request.nodeId}`);
  return String(request.nodeId);
}

export function createAdminService(cluster: ServedCluster | undefined): ServiceHandlers<typeof Admin> {
  if (cluster === undefined) {
    const alone = (): never => {
      throw new NotClusteredError("this node runs alone: it has no other members to remove or to hand leadership to");
    };
    return { removeMember: alone, transferLeadership: alone };
  }
  return {
    async removeMember(request) {
      await cluster.removeMember(memberOf(request));
      return {};
    },
    async transferLeadership(request) {
      await cluster.transferLeadership(memberOf(request));
      return {};
    },
  };
}
