// `loghouse status`, `leave` and `transfer-leader`: inspecting a node and changing its cluster.
import { createSecureContext } from "node:tls";
import { leaveCluster, transferLeadership } from "../cluster/admin-protocol.ts";
import type { PeerTls } from "../cluster/peer-dial.ts";
import { clientCredentials, connectClient, nodeIdFlag, serverAddress, timeoutMs, writeLine } from "./client-flags.ts";
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

/** With --tls-*: the admin request goes over mutual TLS with the caller's certificate, which the node authorizes (admin). */
function adminTls(flags: Flags): PeerTls | undefined {
  const { tls } = clientCredentials(flags, process.env);
  if (tls === undefined) return undefined;
  const context = createSecureContext({ ...tls });
  return { secureContext: () => context };
}

/** Asks the cluster (through --server) to remove member --node-id. */
export async function leave(flags: Flags): Promise<number> {
  const nodeId = nodeIdFlag(flags, "node-id");
  await leaveCluster(serverAddress(flags, process.env), nodeId, timeoutMs(flags), adminTls(flags));
  await writeLine(JSON.stringify({ left: nodeId }));
  return 0;
}

/** Asks the cluster (through --server) to make voter --to its leader; returns once the old leader stepped down. */
export async function transferLeader(flags: Flags): Promise<number> {
  const to = nodeIdFlag(flags, "to");
  await transferLeadership(serverAddress(flags, process.env), to, timeoutMs(flags), adminTls(flags));
  await writeLine(JSON.stringify({ transferredTo: to }));
  return 0;
}
