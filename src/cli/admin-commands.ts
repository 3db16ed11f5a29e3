// `loghouse status`, `leave` and `transfer-leader`: inspecting a node and changing its cluster (the
// loghouse.admin.v1.Admin service, asked of the leader, authorized as admin).
import { connectClient, nodeIdFlag, writeLine } from "./client-flags.ts";
import type { Flags } from "./commands.ts";

/** Prints the node's health, its servers and the log's offsets; exit 1 unless it is SERVING. */
export async function status(flags: Flags): Promise<number> {
  const client = connectClient(flags);
  try {
    const [health, servers, offsets] = await Promise.all([client.healthStatus(), client.servers(), client.offsets()]);
    await writeLine(
      JSON.stringify({
        server: client.address,
        health,
        servers: servers.map((s) => ({ id: s.id, rpcAddr: s.rpcAddr, isLeader: s.isLeader })),
        lowestOffset: offsets.lowestOffset.toString(),
        endOffset: offsets.endOffset.toString(),
      }),
    );
    return health === "SERVING" ? 0 : 1;
  } finally {
    client.close();
  }
}

/** Asks the cluster (through --server) to remove member --node-id. */
export async function leave(flags: Flags): Promise<number> {
  const nodeId = nodeIdFlag(flags, "node-id");
  const client = connectClient(flags);
  try {
    await client.removeMember(nodeId);
  } finally {
    client.close();
  }
  await writeLine(JSON.stringify({ left: nodeId }));
  return 0;
}

/** Asks the cluster (through --server) to make voter --to its leader; returns once the old leader stepped down. */
export async function transferLeader(flags: Flags): Promise<number> {
  const to = nodeIdFlag(flags, "to");
  const client = connectClient(flags);
  try {
    await client.transferLeadership(to);
  } finally {
    client.close();
  }
  await writeLine(JSON.stringify({ transferredTo: to }));
  return 0;
}
