// Composes a cluster member for the server: the Raft node over this node's data directory, its
// replicated log, whose follower forwards appends to the leader over the peer connections
// (src/cluster/append-forwarding.ts), and the spans of those forwards when the node is traced.
import type { Socket } from "node:net";
import { ClusterNode, type ClusterNodeOptions, type PeerSecurity } from "../cluster/cluster-node.ts";
import type { Liveness } from "../cluster/peer-liveness.ts";
import { ReplicatedLog } from "../cluster/replicated-log.ts";
import { Server_Liveness, Server_Role } from "../gen/log/v1/log_pb.ts";
import type { Tracer } from "../observability/tracing.ts";
import type { AppendCall } from "../storage/index.ts";
import type { ServedCluster, ServedMember } from "./served-cluster.ts";

const WIRE_LIVENESS: Readonly<Record<Liveness, Server_Liveness>> = {
  alive: Server_Liveness.ALIVE,
  suspect: Server_Liveness.SUSPECT,
  dead: Server_Liveness.DEAD,
  left: Server_Liveness.LEFT,
  unknown: Server_Liveness.UNSPECIFIED,
};

export class ClusterMember implements ServedCluster {
  readonly log: ReplicatedLog;

  private constructor(
    readonly node: ClusterNode,
    private readonly tracer: Tracer | undefined,
  ) {
    this.log = new ReplicatedLog(node, (address, values, call) => this.forward(address, values, call));
  }

  /**
   * Opens the node (bootstrapping a new cluster when asked and there is no state yet). With `tracer`,
   * each forward to the leader is a span whose context the forward carries, and the leader's append
   * of it a span under that.
   */
  static async open(options: ClusterNodeOptions, tracer?: Tracer): Promise<ClusterMember> {
    const traceForwarded = tracer === undefined ? undefined : (traceparent: string, records: number, append: () => Promise<number>) =>
      tracer.inSpan("loghouse.forwarded", { kind: "server", traceparent: traceparent === "" ? undefined : traceparent, attributes: { "loghouse.records": records } }, async (span) => {
        const firstOffset = await append();
        span.setAttribute("loghouse.first_offset", firstOffset);
        return firstOffset;
      });
    return new ClusterMember(await ClusterNode.open({ ...options, ...(traceForwarded === undefined ? {} : { traceForwarded }) }), tracer);
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

  get clusterId(): string | undefined {
    return this.node.clusterId;
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

  usePeerSecurity(security: PeerSecurity): void {
    this.node.usePeerSecurity(security);
  }

  onServingChange(listener: (serving: boolean) => void): void {
    this.node.onServingChange(listener);
  }

  notReadyReason(): string | undefined {
    return this.node.notReadyReason();
  }

  async close(): Promise<void> {
    await this.node.close();
  }

  private forward(address: string, values: readonly Uint8Array[], call: AppendCall): Promise<number> {
    const tracer = this.tracer;
    if (tracer === undefined) return this.node.forwardAppend(values, call);
    const attributes = { "loghouse.leader": address, "loghouse.records": values.length };
    return tracer.inSpan("loghouse.forward", { kind: "client", attributes }, async () => {
      const { traceparent } = tracer.propagationHeaders();
      return this.node.forwardAppend(values, traceparent === undefined ? call : { signal: call.signal, timeoutMs: () => call.timeoutMs?.(), traceparent });
    });
  }
}
