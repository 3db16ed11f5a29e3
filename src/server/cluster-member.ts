// Composes a cluster member for the server: the Raft node over this node's data directory, its
// replicated log, and forwarding of appends from a follower to the leader over the public API.
import type { Socket } from "node:net";
import { ClusterNode, type ClusterNodeOptions } from "../cluster/cluster-node.ts";
import type { Liveness } from "../cluster/peer-liveness.ts";
import { ReplicatedLog } from "../cluster/replicated-log.ts";
import { Server_Liveness, Server_Role } from "../gen/log/v1/log_pb.ts";
import { LoghouseClient } from "../client/client.ts";
import type { Tracer } from "../observability/tracing.ts";
import type { ServedCluster, ServedClusterSecurity, ServedMember } from "./served-cluster.ts";

const WIRE_LIVENESS: Readonly<Record<Liveness, Server_Liveness>> = {
  alive: Server_Liveness.ALIVE,
  suspect: Server_Liveness.SUSPECT,
  dead: Server_Liveness.DEAD,
  left: Server_Liveness.LEFT,
  unknown: Server_Liveness.UNSPECIFIED,
};

export class ClusterMember implements ServedCluster {
  private readonly clients = new Map<string, LoghouseClient>();
  readonly log: ReplicatedLog;
  private security: ServedClusterSecurity | undefined;

  private constructor(
    readonly node: ClusterNode,
    private readonly tracer: Tracer | undefined,
  ) {
    this.log = new ReplicatedLog(node, (address, values) => this.forward(address, values));
  }

  /**
   * Opens the node (bootstrapping a new cluster when asked and there is no state yet). With `tracer`,
   * each forward to the leader is a span whose context the forwarded call carries.
   */
  static async open(options: ClusterNodeOptions, tracer?: Tracer): Promise<ClusterMember> {
    return new ClusterMember(await ClusterNode.open(options), tracer);
  }

  /**
   * Asks the cluster at any of `contacts` to admit this node (call once the port is served). A new
   * node waits for it; a restarted one asks in the background (it normally is a member already, and
   * its contacts may be down), reporting a failure to `onError`. Without contacts (a first or
   * restarted node that joins nobody) it only rejoins the gossip group through the members it knows.
   */
  async join(contacts: readonly string[], onError: (error: unknown) => void): Promise<void> {
    if (contacts.length === 0) return void this.node.joinGossip([]).catch(onError);
    if (!this.node.stateFile.existed) return this.node.joinCluster(contacts);
    this.node.joinCluster(contacts).catch(onError);
  }

  servers(): ServedMember[] {
    return this.node.servers().map((member) => ({
      id: member.id,
      rpcAddr: member.rpcAddr,
      isLeader: member.isLeader,
      isVoter: member.isVoter,
      liveness: WIRE_LIVENESS[member.liveness],
      role: member.isVoter ? Server_Role.VOTER : Server_Role.LEARNER,
      term: BigInt(member.term),
      lag: member.lag === undefined ? undefined : BigInt(member.lag),
    }));
  }

  acceptConnection(socket: Socket): void {
    this.node.acceptConnection(socket);
  }

  removeMember(member: string): Promise<void> {
    return this.node.removeMember(member);
  }

  transferLeadership(member: string): Promise<void> {
    return this.node.transferLeadership(member);
  }

  usePeerSecurity(security: ServedClusterSecurity): void {
    this.security = security;
    this.node.usePeerSecurity(security);
  }

  onServingChange(listener: (serving: boolean) => void): void {
    this.node.onServingChange(listener);
  }

  notReadyReason(): string | undefined {
    return this.node.notReadyReason();
  }

  async close(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    await this.node.close();
  }

  private async forward(address: string, values: readonly Uint8Array[]): Promise<number> {
    const client = this.clientOf(address);
    if (this.tracer === undefined) return Number(await client.produceBatch(values));
    const attributes = { "loghouse.leader": address, "loghouse.records": values.length };
    return this.tracer.inSpan("loghouse.forward", { kind: "client", attributes }, async () => Number(await client.produceBatch(values)));
  }

  private clientOf(address: string): LoghouseClient {
    let client = this.clients.get(address);
    if (client === undefined) {
      const tracer = this.tracer;
      client = new LoghouseClient(address, {
        ...(this.security === undefined ? {} : { tls: this.security.clientTls() }),
        ...(tracer === undefined ? {} : { callHeaders: () => tracer.propagationHeaders() }),
      });
      this.clients.set(address, client);
    }
    return client;
  }
}
