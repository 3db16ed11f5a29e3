// A cluster member's gossip: the SWIM membership (src/membership) run on the node's port number over
// UDP, turned into what the cluster layer needs. Every member runs it; it
// - presents the node to the group: its name, its advertised address (the RPC and Raft address as
//   well) and a tag `role/raftId@cluster` (role: voter, learner or joining; cluster: the first 8 hex
//   digits of the cluster's id, once the node has one), kept current as Raft changes;
// - tells members of another cluster apart: a member's name whose tag names another cluster (a
//   member that lost its data and was bootstrapped again at its old address, and so a second
//   cluster) is dead to this one, for GetServers and the autopilot alike, and logged as a warning
//   once, on each side;
// - logs every membership event with its reason, and remembers since when each member is in its state;
// - answers liveness (alive, suspect, dead, left) for every member on every node, for GetServers and
//   `loghouse status`, where Raft traffic alone lets a follower judge only itself and the leader;
// - lists the members' addresses, which a joining node tries for its admin join;
// - on the leader only, runs the autopilot (autopilot.ts) every AUTOPILOT_EVERY_MS: a member dead past
//   the dead-member timeout is removed from Raft when the quorum guard allows, one at a time.
//
// Admission stays the joining node's own request, not the autopilot's: a node joins the gossip group
// through any `--join` address, then sends its admin join (admin-protocol.ts) to the members it
// knows, which redirect it to the leader; the leader admits it by name (admission.ts: learner first,
// promoted once caught up; a name back with a new Raft id replaces its old one). The admin join runs
// over the peer connection, so in a secured cluster it is mutual TLS with a certificate that must
// name the node, while gossip is only sealed with the cluster's shared key: letting the leader admit
// whatever gossip reports would let any holder of the gossip key enrol any name as a voter. The
// joining node also knows best when it is ready (it has its Raft id and is listening), and the path
// is the one already tested by hand-typed joins. Gossip then only removes: the autopilot.
//
// A graceful stop (SIGTERM, `close`) leaves the group: the others see `left`, and the node stays in
// the Raft configuration for its restart (autopilot.ts says why left members are not removed).
import type { Logger } from "../logger.ts";
import type { GossipConfig } from "../membership/gossip-config.ts";
import type { MemberState, MemberView, MembershipEvent } from "../membership/member.ts";
import { Membership } from "../membership/membership.ts";
import type { Membership as RaftMembership } from "../raft/index.ts";
import { autopilotVerdicts, type MemberHealth } from "./autopilot.ts";
import type { GossipGauges } from "./cluster-metrics.ts";
import type { Liveness } from "./peer-liveness.ts";
import type { Timers } from "./timers.ts";

/** How a node gossips, and the autopilot's rules (`loghouse serve` flags). */
export interface GossipSettings {
  /** The host the UDP socket binds (the node's listen host). */
  readonly bindHost: string;
  /** The port number to bind, when it is not the advertised address's (a node behind NAT). */
  readonly port?: number;
  /** The cluster's 32-byte gossip key; undefined for plaintext (loopback or --insecure). */
  readonly key?: Buffer;
  readonly config?: Partial<GossipConfig>;
  /** A member gossip reports dead for longer than this is removed from Raft (quorum guard permitting). */
  readonly deadMemberTimeoutMs: number;
  /** The autopilot never leaves fewer voters than this. */
  readonly minVoters: number;
}

/** What the gossip layer reads from, and asks of, the node it runs in. */
export interface GossipHost {
  readonly name: string;
  readonly nodeId: number;
  readonly address: string;
  isLeader(): boolean;
  /** The Raft configuration this node has applied. */
  membership(): RaftMembership;
  /** The name bound to Raft id `nodeId`, if known. */
  nameOf(nodeId: number): string | undefined;
  /** The cluster's id, once this node knows it. */
  clusterId(): string | undefined;
  /** Leader only: proposes removing Raft id `nodeId`; resolves once committed. */
  removeMember(nodeId: number): Promise<void>;
}

const AUTOPILOT_EVERY_MS = 500;
/** How long a joining node waits for a member to answer its gossip join before it tries its admin join anyway. */
const GOSSIP_JOIN_TIMEOUT_MS = 10_000;

const EVENT_REASONS: Readonly<Record<Exclude<MembershipEvent["type"], "synced">, string>> = {
  joined: "seen for the first time, or again after it left",
  alive: "answered again: it refuted a suspicion or came back",
  suspect: "missed a direct and an indirect probe: suspected until it refutes",
  dead: "its suspicion timed out unrefuted",
  left: "it said goodbye (a graceful stop)",
  updated: "its role or address changed",
};

/** Hex digits of the cluster's id a tag carries: the tag must fit gossip's 32 bytes ("learner/", a 15-digit Raft id, "@"). */
const TAG_CLUSTER_DIGITS = 8;

/** The gossip role tag: `role/raftId`, then `@` and the start of the cluster's id when known. */
export function encodeGossipTag(role: string, nodeId: number, clusterId: string | undefined): string {
  return clusterId === undefined ? `${role}/${nodeId}` : `${role}/${nodeId}@${clusterId.slice(0, TAG_CLUSTER_DIGITS)}`;
}

/** The Raft id in a gossip role tag, if it holds one. */
export function gossipTagRaftId(tag: string): number | undefined {
  const match = /\/(\d+)(?:@[0-9a-f]+)?$/.exec(tag);
  return match === null ? undefined : Number(match[1]);
}

/** The start of the cluster's id in a gossip role tag, if it holds one. */
function gossipTagCluster(tag: string): string | undefined {
  return /@([0-9a-f]+)$/.exec(tag)?.[1];
}

export class MemberGossip {
  /** Each member's state by name, and since when by this node's clock. */
  private readonly health = new Map<string, MemberHealth>();
  /** Raft ids the autopilot keeps although dead past the timeout, already logged. */
  private readonly held = new Set<number>();
  private removing = false;
  /** Members already warned of as another cluster's, with the cluster their tag named. */
  private readonly foreignWarned = new Map<string, string>();
  private leaving = false;
  private tag: string;
  private readonly stopAutopilot: () => void;

  private constructor(
    private readonly membership: Membership,
    private readonly settings: GossipSettings,
    private readonly host: GossipHost,
    private readonly logger: Logger,
    private readonly timers: Timers,
  ) {
    this.tag = tagOf(host);
    membership.subscribe((event) => this.observed(event));
    this.stopAutopilot = timers.every(AUTOPILOT_EVERY_MS, () => this.reconcile());
  }

  /** Binds the node's UDP port and starts gossiping, alone until `join`. */
  static async start(settings: GossipSettings, host: GossipHost, logger: Logger, timers: Timers): Promise<MemberGossip> {
    const membership = await Membership.start({
      name: host.name,
      address: host.address,
      role: tagOf(host),
      bindHost: settings.bindHost,
      timers,
      // A node still joining (its tag names no cluster yet) lets a member hold its name: a second
      // process started under a live member's name, whose admission is refused while the member lives.
      yieldsName: (claim, own) => gossipTagCluster(own) === undefined && gossipTagCluster(claim) !== undefined,
      ...(settings.port === undefined ? {} : { port: settings.port }),
      ...(settings.key === undefined ? {} : { key: settings.key }),
      ...(settings.config === undefined ? {} : { config: settings.config }),
    });
    logger.info("gossip started", { address: membership.address, bindHost: settings.bindHost, sealed: settings.key !== undefined });
    return new MemberGossip(membership, settings, host, logger, timers);
  }

  /**
   * Joins the group through any of `addresses`; resolves once one answered, or after
   * GOSSIP_JOIN_TIMEOUT_MS with a warning (the membership keeps asking in the background).
   */
  async join(addresses: readonly string[]): Promise<void> {
    const others = addresses.filter((address) => address !== this.host.address);
    if (others.length === 0) return;
    await this.membership.join(others, GOSSIP_JOIN_TIMEOUT_MS).then(
      (answered) => this.logger.info("gossip joined the group", { through: answered, members: this.membership.members().length }),
      (error: unknown) => this.logger.warn("gossip join got no answer yet: still asking", { addresses: others, error }),
    );
  }

  /** The advertised addresses of the other members gossip reports alive. */
  aliveAddresses(): string[] {
    return this.membership.members().filter((member) => member.state === "alive" && member.name !== this.host.name).map((member) => member.address);
  }

  /**
   * How each member looks to gossip, by Raft id (undefined where gossip has no view of it), from one
   * reading of the group. A Raft id whose name gossip now knows under another Raft id (a replaced
   * node) is dead.
   */
  liveness(): (nodeId: number) => Liveness | undefined {
    const byName = new Map(this.membership.members().map((member) => [member.name, member]));
    return (nodeId) => {
      const name = this.host.nameOf(nodeId);
      const view = name === undefined ? undefined : byName.get(name);
      if (view === undefined) return undefined;
      const raftId = gossipTagRaftId(view.role);
      return raftId !== undefined && raftId !== nodeId ? "dead" : view.state;
    };
  }

  /** Whether `view`'s tag names another cluster than this node's (both known). */
  private isForeign(view: MemberView): boolean {
    const own = this.host.clusterId();
    const theirs = gossipTagCluster(view.role);
    return own !== undefined && theirs !== undefined && theirs !== own.slice(0, TAG_CLUSTER_DIGITS);
  }

  /** The state a member counts as here: another cluster's is dead to this one. */
  private stateOf(view: MemberView): MemberState {
    return this.isForeign(view) ? "dead" : view.state;
  }

  /** What /metrics shows of the gossip. */
  gauges(): GossipGauges {
    const { transport, core, healthScore } = this.membership.stats();
    const membersByState: Record<string, number> = { alive: 0, suspect: 0, dead: 0, left: 0 };
    for (const member of this.membership.members()) membersByState[member.state]!++;
    return {
      membersByState,
      healthScore,
      datagramsSent: transport.datagramsSent,
      bytesSent: transport.bytesSent,
      datagramsReceived: transport.datagramsReceived,
      bytesReceived: transport.bytesReceived,
      datagramsUnauthenticated: transport.droppedUnauthenticated,
      probesFailed: core.probesFailed,
    };
  }

  /** Tells the group this node is leaving (they see `left`) and stops; Raft membership is untouched. */
  async leave(): Promise<void> {
    if (this.leaving) return;
    this.leaving = true;
    this.stopAutopilot();
    await this.membership.leave();
    this.logger.info("gossip left the group");
  }

  /** Stops at once, telling nobody. */
  async close(): Promise<void> {
    this.leaving = true;
    this.stopAutopilot();
    await this.membership.close();
  }

  private viewOf(nodeId: number): MemberView | undefined {
    const name = this.host.nameOf(nodeId);
    return name === undefined ? undefined : this.membership.members().find((member) => member.name === name);
  }

  private observed(event: MembershipEvent): void {
    if (event.type === "synced") return;
    const { member } = event;
    this.remember(member.name, this.stateOf(member));
    const fields = { event: event.type, member: member.name, address: member.address, role: member.role, incarnation: member.incarnation, reason: EVENT_REASONS[event.type] };
    if (event.type === "suspect" || event.type === "dead") this.logger.warn("membership event", fields);
    else this.logger.info("membership event", fields);
  }

  private remember(name: string, state: MemberState): void {
    if (this.health.get(name)?.state !== state) this.health.set(name, { state, sinceMs: this.timers.now() });
  }

  /** Keeps the tag and the states current, and on the leader lets the autopilot decide. */
  private reconcile(): void {
    if (this.leaving) return;
    for (const member of this.membership.members()) {
      this.remember(member.name, this.stateOf(member));
      this.warnIfForeign(member);
    }
    const tag = tagOf(this.host);
    if (tag !== this.tag) {
      this.tag = tag;
      this.membership.setRole(tag);
    }
    if (this.removing || !this.host.isLeader()) return;
    this.runAutopilot();
  }

  /** Warns once (per member and cluster) of a member whose tag names another cluster. */
  private warnIfForeign(view: MemberView): void {
    if (!this.isForeign(view) || this.foreignWarned.get(view.name) === view.role) return;
    this.foreignWarned.set(view.name, view.role);
    this.logger.warn("gossip hears a node of another cluster", {
      member: view.name,
      address: view.address,
      tag: view.role,
      clusterId: this.host.clusterId(),
      reason: "its tag names another cluster, whose nodes this one's hear (a --join that named a node of the other cluster, or a member that lost its data and was started with --bootstrap instead of --join, making a second cluster); this cluster counts it dead",
    });
  }

  private runAutopilot(): void {
    const verdicts = autopilotVerdicts({
      membership: this.host.membership(),
      leaderId: this.host.nodeId,
      health: (nodeId) => {
        const view = this.viewOf(nodeId);
        // A name now another cluster's is dead since first seen so; one under a new Raft id of this
        // cluster's is a node admitted afresh, whose admission replaces the old id.
        if (view === undefined || ((gossipTagRaftId(view.role) ?? nodeId) !== nodeId && !this.isForeign(view))) return undefined;
        return this.health.get(view.name);
      },
      nowMs: this.timers.now(),
      deadMemberTimeoutMs: this.settings.deadMemberTimeoutMs,
      minVoters: this.settings.minVoters,
    });
    for (const verdict of verdicts) {
      if (verdict.remove || this.held.has(verdict.nodeId)) continue;
      this.held.add(verdict.nodeId);
      this.logger.warn("autopilot keeps a dead member", { member: this.host.nameOf(verdict.nodeId), memberId: verdict.nodeId, reason: verdict.reason });
    }
    for (const id of this.held) if (!verdicts.some((verdict) => verdict.nodeId === id && !verdict.remove)) this.held.delete(id);
    const removal = verdicts.find((verdict) => verdict.remove);
    if (removal === undefined) return;
    const fields = { member: this.host.nameOf(removal.nodeId), memberId: removal.nodeId, reason: removal.reason };
    this.logger.warn("autopilot removes a dead member", fields);
    this.removing = true;
    this.host
      .removeMember(removal.nodeId)
      .catch((error: unknown) => this.logger.warn("autopilot removal failed: the next round decides again", { ...fields, error }))
      .finally(() => {
        this.removing = false;
      });
  }
}

/** The tag the host's node gossips: its part in the Raft configuration it has applied, and its Raft id. */
function tagOf(host: GossipHost): string {
  const { voters, learners } = host.membership();
  const role = voters.includes(host.nodeId) ? "voter" : learners.includes(host.nodeId) ? "learner" : "joining";
  return encodeGossipTag(role, host.nodeId, host.clusterId());
}
