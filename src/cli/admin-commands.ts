// `loghouse status`, `leave` and `transfer-leader`: inspecting a node and changing its cluster (the
// loghouse.admin.v1.Admin service, asked of the leader, authorized as admin).
import { Server_Liveness, Server_Role, type Server } from "../gen/log/v1/log_pb.ts";
import type { LoghouseClient } from "../client/client.ts";
import { transient } from "../client/retry-policy.ts";
import { nodeNameFlag, serverAddresses, withClient, withNodeClient, writeLine } from "./client-flags.ts";
import type { Flags } from "./commands.ts";

/**
 * Prints one node's health, its cluster's id (null on a node alone), the leader it knows (null when
 * none: a cluster that lost its quorum, or an election under way), its servers and the log's offsets
 * (the first of --server's addresses that can be reached); exit 1 unless it is SERVING and knows a
 * leader (a node alone leads itself).
 */
export async function status(flags: Flags): Promise<number> {
  const addresses = serverAddresses(flags, process.env);
  for (let index = 0; ; index++) {
    try {
      return await withNodeClient(flags, addresses[index]!, nodeStatus);
    } catch (error) {
      if (index + 1 >= addresses.length || !transient(error)) throw error;
    }
  }
}

async function nodeStatus(client: LoghouseClient): Promise<number> {
  const [health, { servers, clusterId }, offsets] = await Promise.all([client.healthStatus(), client.getServers(), client.offsets()]);
  const leader = servers.find((server) => server.isLeader)?.id ?? null;
  await writeLine(
    JSON.stringify({
      server: client.address,
      health,
      clusterId: clusterId === "" ? null : clusterId,
      leader,
      servers: servers.map(memberLine),
      lowestOffset: offsets.lowestOffset.toString(),
      endOffset: offsets.endOffset.toString(),
    }),
  );
  return health === "SERVING" && leader !== null ? 0 : 1;
}

/**
 * One member as `status` prints it: the seed's fields, then role, liveness ("unknown" where the
 * node asked cannot tell), term, and lag (null where unknown: only the leader knows it).
 */
function memberLine(server: Server): Record<string, unknown> {
  return {
    id: server.id,
    rpcAddr: server.rpcAddr,
    isLeader: server.isLeader,
    role: server.role === Server_Role.LEARNER ? "learner" : "voter",
    liveness: server.liveness === Server_Liveness.UNSPECIFIED ? "unknown" : Server_Liveness[server.liveness].toLowerCase(),
    term: server.term.toString(),
    lag: server.lag?.toString() ?? null,
  };
}

/** Asks the cluster (through --server) to remove member --node-id. */
export async function leave(flags: Flags): Promise<number> {
  const member = nodeNameFlag(flags, "node-id");
  await withClient(flags, (client) => client.removeMember(member));
  await writeLine(JSON.stringify({ left: member }));
  return 0;
}

/** Asks the cluster (through --server) to make voter --to its leader; returns once the old leader stepped down. */
export async function transferLeader(flags: Flags): Promise<number> {
  const to = nodeNameFlag(flags, "to");
  await withClient(flags, (client) => client.transferLeadership(to));
  await writeLine(JSON.stringify({ transferredTo: to }));
  return 0;
}
