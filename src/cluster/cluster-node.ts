// One member of a Loghouse cluster: its data log, Raft state, transport and replica, its gossip and
// the leader's autopilot (member-gossip.ts), plus the cluster's life cycle: bootstrapping a new
// cluster, joining a running one by name, through the gossip group first (as a learner,
// promoted to voter once caught up; a name that comes back with a new Raft id replaces its old one,
// admission.ts), leaving, learning where the other members listen, learning that it
// was removed (removal-watch.ts: the leader confirms it), after which it serves nothing,
// and repairing damaged records of its log from its peers (range-repair.ts) with Raft stopped
// meanwhile: a replica that meets a damaged record stops, and a new one starts once the log is whole.
// A full disk stops Raft here the same way until there is space again, and the member then rejoins.
// A follower forwards produces to the leader over the peer connections (append-forwarding.ts).
import { randomBytes, randomInt } from "node:crypto";
import { once } from "node:events";
import { setTimeout as delay } from "node:timers/promises";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { TLSSocket } from "node:tls";
import { join } from "node:path";
import {
  ClusterMismatchError,
  ClusterUnavailableError,
  InvalidArgumentError,
  InvalidConfigError,
  LogClosedError,
  NodeRemovedError,
  NotLeaderError,
  PermissionDeniedError,
  ProposalRefusedError,
  type DataLossError,
} from "../errors.ts";
import { silentLogger, type Logger } from "../logger.ts";
import { applyMembershipChange, decodeMembershipChange, defaultRaftLimits, EntryType, MembershipChangeKind, ProposeRejection, Role, type Entry, type MembershipChange, type Message } from "../raft/index.ts";
import { describeMembershipChange, quorumOf } from "../raft/membership.ts";
import { Log, type LogConfig, type ProducerTableOptions } from "../storage/index.ts";
import { ADMIN_MARKER, sendAdminRequest, serveAdminConnection, type AdminRequest, type AdminResponse } from "./admin-protocol.ts";
import { CONNECTION_MARKER } from "./frame-reader.ts";
import { outOfProtocol } from "./message-check.ts";
import { CodecError, PeerUnavailableError } from "./transport-errors.ts";
import type { ClusterMetrics, RaftGauges } from "./cluster-metrics.ts";
import { PeerReachability } from "./peer-reachability.ts";
import { PeerRoundTrips } from "./peer-round-trips.ts";
import type { PeerTls } from "./peer-dial.ts";
import type { Action } from "../security/action.ts";
import { certificateNamesNode, certificatePrincipal } from "../security/peer-identity.ts";
import { clusterField, clusterRefusal, parseClusterId } from "../wire/cluster-id.ts";
import type { ForwardMessage, RepairMessage } from "./peer-message.ts";
import { AppendForwarding, type ForwardCall } from "./append-forwarding.ts";
import { answerRepairRequest, RangeRepair } from "./range-repair.ts";
import { RemovalWatch } from "./removal-watch.ts";
import { nextAdmissionStep, type JoinCandidate } from "./admission.ts";
import { decodeMemberCard } from "./member-card.ts";
import { MemberGossip, type GossipHost, type GossipSettings } from "./member-gossip.ts";
import { PeerLiveness, type Liveness } from "./peer-liveness.ts";
import { RaftStateFile } from "./raft-state-file.ts";
import { RaftTransport } from "./raft-transport.ts";
import { Replica, type RaftLimits } from "./replica.ts";
import { ReplicaRestarts } from "./replica-restarts.ts";
import { alignWithStartPoint } from "./log-storage.ts";
import { systemTimers } from "./timers.ts";

export interface ClusterNodeOptions {
  readonly dataDir: string;
  /** What operators, certificates and GetServers call this node (node-name.ts); its Raft id is drawn by its data directory. */
  readonly name: string;
  /** host:port where this node's port is reachable by the other members. */
  readonly address: string;
  /** Start a new cluster with this node as its only voter (ignored once the node has state). */
  readonly bootstrap?: boolean;
  /**
   * Whether this start names members to join through (--join). When false, a data directory whose
   * node asked to join and was never admitted is refused: with no one to ask, it would wait forever.
   */
  readonly joining?: boolean;
  readonly tickMs?: number;
  readonly log?: Partial<LogConfig>;
  readonly limits?: Partial<RaftLimits>;
  /** Bounds of the idempotent producers' table (default defaultProducerLimits). */
  readonly producers?: ProducerTableOptions;
  /** How often the leader tries to promote caught-up learners. */
  readonly promoteEveryMs?: number;
  /** Gossip membership on the node's port number, and the leader's autopilot (member-gossip.ts); absent: none. */
  readonly gossip?: GossipSettings;
  readonly logger?: Logger;
  /** Where the log's commits and the member's leader changes are counted, and who reads its Raft state when scraped. */
  readonly metrics?: ClusterMetrics;
  /** Runs the leader's `append` of a follower's forward (in a span whose parent is `traceparent`, "" none); absent: runs it as is. */
  readonly traceForwarded?: (traceparent: string, records: number, append: () => Promise<number>) => Promise<number>;
}

const JOIN_ATTEMPTS_MAX = 50;
/** Membership changes one admission may take: remove an old Raft id, add the new one (admission.ts), with room to spare. */
const ADMISSION_STEPS_MAX = 4;
/** Random bytes of a cluster id (16 hex digits): two clusters never draw the same. */
const CLUSTER_ID_BYTES = 8;
/** Raft ids are drawn below this (a safe integer, and within what crypto.randomInt draws). */
const RAFT_ID_LIMIT = 2 ** 48;
/** Real time per Raft tick unless the options say otherwise. */
const DEFAULT_TICK_MS = 50;
/** Pauses of 50 ms an operator's membership change waits for one under way. */
const MEMBERSHIP_WAIT_ATTEMPTS_MAX = 100;
/** Pauses of 50 ms a leadership transfer waits for the leader to step down (the core gives up after an election timeout). */
const TRANSFER_WAIT_ATTEMPTS_MAX = 100;
/** A peer asked for records it does not send within this time is skipped for the next. */
const REPAIR_RESPONSE_TIMEOUT_MS = 2_000;
/** Forwarded produces in flight to the leader (and from one follower) at most, their bytes, and their longest wait. */
const FORWARDS_IN_FLIGHT_MAX = 1024;
const FORWARD_BYTES_IN_FLIGHT_MAX = 32 * 1024 * 1024;
const FORWARD_TIMEOUT_MS_MAX = 30_000;
/** Refusals of a promotion that only mean "not yet". */
const PROMOTION_WAITS: ReadonlySet<string> = new Set([ProposeRejection.LearnerNotCaughtUp, ProposeRejection.MembershipChangePending]);
/** A member heard from within this many election timeouts is alive, within the second many suspect (peer-liveness.ts). */
const ALIVE_ELECTION_TIMEOUTS = 2;
const SUSPECT_ELECTION_TIMEOUTS = 10;

/** One member as GetServers reports it (term and lag as this node knows them; lag only on the leader). */
export interface MemberView {
  readonly id: string;
  readonly rpcAddr: string;
  readonly isLeader: boolean;
  readonly isVoter: boolean;
  readonly liveness: Liveness;
  readonly term: number;
  readonly lag: number | undefined;
}

/** How a cluster with TLS authenticates and authorizes its peers and its admin callers. */
export interface PeerSecurity {
  readonly tls: PeerTls;
  /** Throws UnauthenticatedError or PermissionDeniedError unless `principal` may take `action` (the node's ACL). */
  readonly authorize: (principal: string | undefined, action: Action) => void;
}

export class ClusterNode {
  private server: Server | null = null;
  private promoter: NodeJS.Timeout | undefined;
  private promoting = false;
  /** Counts promotion periods: which learner is asked about next. */
  private promotionTurn = 0;
  /**
   * A node without state ignores Raft traffic until the leader has admitted it (its join answered):
   * until then it is no member, and its Raft id is new to the cluster (admission.ts).
   */
  private admitted: boolean;
  private peerSecurity: PeerSecurity | undefined;
  /** Why this node no longer serves, once it learned it was removed from the cluster. */
  private removal: string | undefined;
  /** Whether the node serves as a member: not while it repairs its log, never again once removed. */
  private serving = true;
  private readonly servingListeners: Array<(serving: boolean) => void> = [];
  /** The Raft replica now running, and its restarts (after a repair, or once a full disk has space). */
  readonly restarts: ReplicaRestarts;
  private readonly rangeRepair: RangeRepair;
  private readonly forwarding: AppendForwarding;
  private readonly closing = new AbortController();
  private readonly removalWatch: RemovalWatch;
  private readonly liveness: PeerLiveness;
  private readonly logger: Logger;
  private readonly reachability: PeerReachability;
  private readonly roundTrips = new PeerRoundTrips(() => performance.now());
  private gossip: MemberGossip | undefined;
  /** The leader the replica last followed (0: none), and the last one known (not 0), across replica restarts. */
  private leader = 0;
  private lastKnownLeader = 0;

  private constructor(
    readonly options: ClusterNodeOptions,
    /** This node's Raft id, drawn once by its data directory (admission.ts). */
    readonly nodeId: number,
    readonly log: Log,
    readonly stateFile: RaftStateFile,
    readonly transport: RaftTransport,
    private readonly newReplica: () => Replica,
  ) {
    this.admitted = stateFile.existed || options.bootstrap === true;
    this.logger = options.logger ?? silentLogger;
    this.reachability = new PeerReachability(nodeId, this.logger, (id) => this.nameOf(id), (id) => this.liveness.hasHeard(id));
    this.restarts = new ReplicaRestarts({
      log,
      stateFile,
      newReplica,
      timers: systemTimers,
      logger: this.logger,
      closing: this.closing.signal,
      removed: () => this.removal !== undefined,
      setServing: (serving) => this.setServing(serving),
      stopProcess: (error) => this.stopProcess(error),
    });
    this.rangeRepair = new RangeRepair({
      nodeId,
      log,
      sendRepair: (message) => transport.sendRepair(message),
      peers: () => Object.keys(this.addresses).map(Number).filter((id) => id !== this.nodeId),
      logger: this.logger,
      responseTimeoutMs: REPAIR_RESPONSE_TIMEOUT_MS,
    });
    const traceForwarded = options.traceForwarded ?? ((_traceparent, _records, append) => append());
    this.forwarding = new AppendForwarding({
      nodeId,
      send: (message) => transport.sendForward(message),
      append: (values, traceparent) => traceForwarded(traceparent, values.length, () => this.replica.propose(values)),
      inFlightMax: FORWARDS_IN_FLIGHT_MAX,
      bytesInFlightMax: FORWARD_BYTES_IN_FLIGHT_MAX,
      timeoutMsMax: FORWARD_TIMEOUT_MS_MAX,
    });
    this.removalWatch = new RemovalWatch({
      nodeId,
      clusterId: () => this.clusterId,
      addresses: () => this.addresses,
      peerTls: () => this.peerSecurity?.tls,
      onRemoved: (reason) => this.stopServing(reason),
      logger: this.logger,
      signal: this.closing.signal,
    });
    const electionTimeoutMs = (options.tickMs ?? DEFAULT_TICK_MS) * (options.limits?.electionTimeoutTicks ?? defaultRaftLimits.electionTimeoutTicks);
    this.liveness = new PeerLiveness({
      aliveMs: ALIVE_ELECTION_TIMEOUTS * electionTimeoutMs,
      suspectMs: SUSPECT_ELECTION_TIMEOUTS * electionTimeoutMs,
      now: systemTimers.now,
    });
    // The background scrub (if configured) found damage before any reader did.
    log.on("damage", () => void this.repairDamage());
  }

  /** The Raft replica now running. */
  get replica(): Replica {
    return this.restarts.replica;
  }

  static async open(options: ClusterNodeOptions): Promise<ClusterNode> {
    const { name, address } = options;
    const bootstrap = options.bootstrap === true;
    if ((options.log?.retentionBytes ?? 0) > 0 || (options.log?.retentionMs ?? 0) > 0) {
      // Dropping the start of a replicated log needs the start point moved on every member.
      throw new InvalidConfigError("retention is not supported in a cluster yet: remove retentionBytes and retentionMs");
    }
    // A new data directory draws its Raft id, written with the first state before the node talks to anyone.
    const drawn = randomInt(1, RAFT_ID_LIMIT);
    const stateFile = await RaftStateFile.open(join(options.dataDir, RaftStateFile.FILE_NAME), {
      nodeId: drawn,
      // A new cluster starts from a start point at index 1 holding its first membership; a joining
      // node starts empty and receives that start point from the leader.
      snapshot: bootstrap ? { index: 1, term: 1, membership: { voters: [drawn], learners: [] } } : { index: 0, term: 0, membership: { voters: [], learners: [] } },
      addresses: { [drawn]: address },
      names: { [drawn]: name },
      // A new cluster draws its id (src/wire/cluster-id.ts); a joining node takes the leader's.
      ...(bootstrap ? { clusterId: randomBytes(CLUSTER_ID_BYTES).toString("hex") } : {}),
    }, { logger: options.logger });
    const nodeId = stateFile.state.nodeId;
    if (nodeId === undefined) throw new InvalidConfigError(`${stateFile.path} holds no Raft id (written by an older version): start this node with an empty data directory and --join`);
    if (!stateFile.existed) options.logger?.info("new data directory: drew its Raft id", { name, nodeId });
    // A data directory is one member's: started under another name, it would be taken for a new
    // member and evict the one whose name it now claims.
    // A node whose first join failed keeps the state written before it: no start point, no member
    // known but itself. It is no member, and --bootstrap would be ignored on it.
    const { snapshot, addresses } = stateFile.state;
    const neverJoined = stateFile.existed && snapshot.index === 0 && snapshot.membership.voters.length === 0 && Object.keys(addresses).length <= 1;
    if (neverJoined && (bootstrap || options.joining === false)) {
      throw new InvalidConfigError(
        `${options.dataDir} holds a node that asked to join a cluster and may never have been admitted (it kept no answer): start it with --join MEMBER${bootstrap ? ", or bootstrap with a new data directory" : ""}`,
      );
    }
    const storedName = stateFile.state.names?.[nodeId];
    if (stateFile.existed && storedName !== undefined && storedName !== name) {
      throw new InvalidConfigError(`${options.dataDir} belongs to node ${storedName}, not ${name}: start it with --node-id ${storedName}, or give ${name} a new data directory`);
    }
    const storedAddress = stateFile.state.addresses[nodeId];
    if (stateFile.existed && storedAddress !== undefined && storedAddress !== options.address) {
      // The members know a member by the address it joined with, and a join of a member does not move it.
      options.logger?.warn("this node's address changed since it joined: its peers still dial the old one, and it hears from none of them", {
        name,
        joinedAt: storedAddress,
        address: options.address,
        remedy: `start it at ${storedAddress} again (--listen, or --advertise), or remove it (loghouse leave) and join it again with a new data directory`,
      });
    }
    const log = await Log.open(
      RaftStateFile.logDirOf(options.dataDir),
      { ...options.log, initialOffset: stateFile.state.snapshot.index, durability: "fsync" },
      { ...(options.logger === undefined ? {} : { logger: options.logger }), ...(options.metrics === undefined ? {} : { metrics: options.metrics }) },
    );
    await alignWithStartPoint(log, stateFile);
    let node: ClusterNode | undefined;
    const transport = new RaftTransport({
      nodeId,
      onMessage: (message) => node?.receive(message),
      onRepairMessage: (message) => node?.receiveRepair(message),
      onForwardMessage: (message: ForwardMessage) => node?.forwarding.receive(message),
      onError: (error) => {
        // Malformed or out-of-protocol input closed a peer connection; unreachable peers are routine,
        // and so is a peer not known yet (the leader dials a node it admits before the node has
        // learned its name from the admission; it dials again).
        if (error instanceof CodecError && error.reason === "unknown-sender") options.logger?.debug("closed a peer connection", { error });
        else if (error instanceof CodecError) options.logger?.warn("closed a peer connection", { error });
        if (error instanceof PeerUnavailableError) node?.reachability.failed(error.peerId, error.address, error.message);
      },
      reconnectDelayMs: { min: 20, max: 500 },
    });
    let seed = nodeId + Date.now();
    const newReplica = (): Replica =>
      new Replica({
        nodeId,
        log,
        stateFile,
        send: (message) => {
          node?.roundTrips.sent(message);
          transport.send(message);
        },
        timers: systemTimers,
        logger: options.logger,
        tickMs: options.tickMs ?? DEFAULT_TICK_MS,
        seed: seed++,
        limits: { learnerPromotionLagMax: 1024, ...options.limits },
        ...(options.producers === undefined ? {} : { producers: options.producers }),
        onLeader: (leader, term) => node?.followLeader(leader, term),
        onApply: (entries) => node?.applied(entries),
        onDamage: (error) => node?.damageFound(error),
        onWriteFailure: (error) => node?.restarts.writeFailed(error),
      });
    node = new ClusterNode(options, nodeId, log, stateFile, transport, newReplica);
    options.metrics?.observeRaft(() => node!.raftGauges());
    for (const [id, peer] of Object.entries(stateFile.state.addresses)) if (Number(id) !== nodeId) transport.setPeer(Number(id), peer);
    if (!stateFile.existed) await stateFile.update({});
    node.replica.start();
    if (bootstrap && stateFile.state.hardState.term <= 1) node.replica.campaign();
    node.promoter = setInterval(() => node?.promoteLearners(), options.promoteEveryMs ?? 200).unref();
    if (options.gossip !== undefined) {
      node.gossip = await MemberGossip.start(options.gossip, node.gossipHost(), node.logger, systemTimers).catch(async (error: unknown) => {
        await node.close();
        throw error;
      });
      options.metrics?.observeGossip(() => node.gossip!.gauges());
    }
    return node;
  }

  /** This node's name. */
  get name(): string {
    return this.options.name;
  }

  /** The name of the member with Raft id `nodeId`, or the id as text while no name is known (for logs, metrics and GetServers). */
  nameOf(nodeId: number): string {
    return this.names[nodeId] ?? String(nodeId);
  }

  /** Each known member's name by Raft id. */
  get names(): Readonly<Record<string, string>> {
    return this.stateFile.state.names ?? {};
  }

  /** The cluster's id, once this node has one (drawn at bootstrap, or the leader's on joining); undefined on a node from before ids were drawn. */
  get clusterId(): string | undefined {
    return this.stateFile.state.clusterId;
  }

  /** host:port where this node is reachable by the other members. */
  get address(): string {
    return this.options.address;
  }

  /** The Raft state the metrics show when scraped. */
  raftGauges(): RaftGauges {
    const { term, commit, applied, membership, role } = this.replica.status();
    const peers = [...membership.voters, ...membership.learners].filter((id) => id !== this.nodeId);
    return {
      term,
      commitIndex: commit,
      appliedIndex: applied,
      isLeader: role === Role.Leader,
      peers: peers.map((id) => ({ name: this.nameOf(id), matchIndex: this.replica.matchIndexOf(id), rttSeconds: this.roundTrips.secondsTo(id) })),
      forwardsWaiting: this.forwarding.waiting,
      forwardsServing: this.forwarding.serving,
      transport: this.transport.stats(),
    };
  }

  /**
   * Why this member should get no traffic now (GET /readyz), or undefined: removed, repairing its
   * log, or knowing no leader (its appends would fail and its reads may be stale).
   */
  notReadyReason(): string | undefined {
    if (this.removal !== undefined) return "removed from the cluster";
    const paused = this.restarts.pausedBecause;
    if (paused !== undefined) return paused;
    return this.replica.status().lead === 0 ? "no leader known" : undefined;
  }

  /** The replica follows `leader` (0: none known) in `term`: logged, and counted when it is a new one. */
  private followLeader(leader: number, term: number): void {
    if (leader === this.leader) return;
    const nameOrNone = (id: number): string | null => (id === 0 ? null : this.nameOf(id));
    this.logger.info("leader changed", { nodeId: this.nodeId, previous: nameOrNone(this.leader), leader: nameOrNone(leader), leaderId: leader, term });
    this.leader = leader;
    if (leader === 0 || leader === this.lastKnownLeader) return;
    this.lastKnownLeader = leader;
    this.options.metrics?.leaderChanged();
  }

  /** Throws NodeRemovedError once this node has learned that it is no longer a member. */
  assertMember(): void {
    if (this.removal !== undefined) throw new NodeRemovedError(this.removal);
  }

  /**
   * Calls `listener` whenever the node stops or starts serving as a member (and at once if it does
   * not serve now): it stops while it repairs damaged records, and for good once it learns it was removed.
   */
  onServingChange(listener: (serving: boolean) => void): void {
    this.servingListeners.push(listener);
    if (!this.serving) listener(false);
  }

  private setServing(serving: boolean): void {
    const next = serving && this.removal === undefined;
    if (next === this.serving) return;
    this.serving = next;
    for (const listener of this.servingListeners) listener(next);
  }

  get addresses(): Readonly<Record<string, string>> {
    return this.stateFile.state.addresses;
  }

  /** Asks the current leader to append `values` as its own produce (append-forwarding.ts); resolves with their first offset. */
  forwardAppend(values: readonly Uint8Array[], call: ForwardCall): Promise<number> {
    const lead = this.replica.status().lead;
    if (lead === 0 || lead === this.nodeId) return Promise.reject(new ClusterUnavailableError("no leader to forward to is known; retry shortly"));
    return this.forwarding.forward(lead, values, call);
  }

  /** Address of the current leader, if known. */
  get leaderAddress(): string | undefined {
    const lead = this.replica.status().lead;
    return lead === 0 ? undefined : this.addresses[lead];
  }

  /**
   * Every member with its address, whether it leads, and how it looks from here, for GetServers:
   * liveness from gossip where it has a view; else, from Raft traffic, the leader knows every member's
   * and a follower only its own and the leader's. Lag is known on the leader only.
   */
  servers(): MemberView[] {
    this.assertMember();
    const { membership, lead, term, lastIndex } = this.replica.status();
    const leads = lead === this.nodeId;
    const gossipLiveness = this.gossip?.liveness();
    return [...membership.voters, ...membership.learners].map((id) => {
      const match = this.replica.matchIndexOf(id);
      return {
        id: this.nameOf(id),
        rpcAddr: this.addresses[id] ?? "",
        isLeader: id === lead,
        isVoter: membership.voters.includes(id),
        liveness: id === this.nodeId ? "alive" : (gossipLiveness?.(id) ?? this.liveness.of(id, leads || id === lead)),
        term,
        lag: match === undefined ? undefined : lastIndex - match,
      };
    });
  }

  /**
   * Takes a connection whose first byte is 0x01 (Raft) or 0x02 (admin). `firstBytes` are the bytes a
   * sniffer already read from it; when none were (or they were put back), the first chunk is read here.
   */
  acceptConnection(socket: Socket, firstBytes: Buffer = Buffer.alloc(0)): void {
    if (firstBytes.length === 0) {
      socket.once("data", (chunk: Buffer) => {
        socket.pause();
        this.acceptConnection(socket, chunk);
        socket.resume();
      });
      // A sniffer may have paused the socket after putting its bytes back.
      socket.resume();
      return;
    }
    if (firstBytes[0] === CONNECTION_MARKER) {
      this.transport.acceptConnection(socket, firstBytes);
    } else if (firstBytes[0] === ADMIN_MARKER) {
      void serveAdminConnection(socket, firstBytes, (request) => this.handleAdminFrom(socket, request));
    } else {
      socket.destroy();
    }
  }

  /** Listens for Raft and admin connections only (a node without the RPC server, as in tests). */
  async listen(host: string, port: number): Promise<AddressInfo> {
    const server = createServer((socket) => this.acceptConnection(socket));
    server.listen(port, host);
    await once(server, "listening");
    this.server = server;
    return server.address() as AddressInfo;
  }

  /**
   * Joins the gossip group (when the node gossips) through `contacts` and the members its state file
   * knows, so that a restarted node is seen alive again at once; resolves once one answered or the
   * gossip join timed out.
   */
  async joinGossip(contacts: readonly string[]): Promise<void> {
    await this.gossip?.join([...new Set([...contacts, ...Object.values(this.addresses)])]);
  }

  /**
   * Asks the cluster to admit this node: joins the gossip group first (when it gossips), then sends
   * its admin join to `contacts` and the members gossip reports alive (learned afresh every attempt:
   * a member that gossip finds later, reconnecting to this node, counts too), in turn, following
   * redirects to the leader. A node that has a cluster (restarted) passes over a contact of another
   * cluster, warning of it at once: its data directory decides its cluster, not --join.
   */
  async joinCluster(contacts: string | readonly string[]): Promise<void> {
    const given = typeof contacts === "string" ? [contacts] : contacts;
    await this.joinGossip(given);
    let target: string | undefined;
    let lastError = "no member to ask but this node";
    /** Contacts that answered that they run alone: never asked again. */
    const alone = new Set<string>();
    /** Contacts that answered for another cluster: never asked again. */
    const foreign = new Set<string>();
    for (let attempt = 0; attempt < JOIN_ATTEMPTS_MAX; attempt++) {
      const candidates = [...new Set([...given, ...(this.gossip?.aliveAddresses() ?? [])])].filter((address) => address !== this.address && !alone.has(address) && !foreign.has(address));
      if (candidates.length === 0 && alone.size > 0) {
        throw new InvalidConfigError(`${[...alone].join(", ")} ${alone.size === 1 ? "runs" : "run"} alone, not as a member of a cluster: --join takes a member's address (a cluster's first node starts with --bootstrap)`);
      }
      // Ended at once only when this node knows no member of its own to wait for (a member restarted
      // before the others keeps asking while they come up).
      if (candidates.length === 0 && foreign.size > 0 && !this.knowsOtherMembers()) {
        throw new ClusterMismatchError(`${[...foreign].join(", ")} ${foreign.size === 1 ? "is a node" : "are nodes"} of another cluster: ${this.foreignJoinAdvice()}`);
      }
      target ??= candidates[attempt % Math.max(1, candidates.length)];
      if (target !== undefined) {
        const request = { op: "join", name: this.name, nodeId: this.nodeId, address: this.options.address, ...clusterField(this.clusterId) } as const;
        const response = await sendAdminRequest(target, request, undefined, this.peerSecurity?.tls).catch((error: unknown): AdminResponse => ({ ok: false, error: String(error) }));
        if (response.ok) {
          await this.learnMembers(response.addresses, response.names ?? {}, response.clusterId);
          this.admitted = true;
          return;
        }
        lastError = response.error;
        // A node alone is passed over for good; once every contact is one, the join stops at once.
        if (response.code === "NOT_CLUSTERED") {
          alone.add(target);
          target = undefined;
          continue;
        }
        // So is a node of another cluster (only a node that has a cluster names it, and is refused).
        if (response.code === "CLUSTER_MISMATCH") {
          this.logger.warn("--join names a node of another cluster: passed over", { address: target, refusal: response.error, advice: this.foreignJoinAdvice() });
          foreign.add(target);
          target = undefined;
          continue;
        }
        // A redirect is followed; a failure moves on to the next candidate.
        target = response.leaderAddress === this.address ? undefined : response.leaderAddress;
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(1000, 50 * 2 ** Math.min(attempt, 5))));
    }
    throw new ClusterUnavailableError(`could not join through ${given.join(", ")}: ${lastError}`);
  }

  /** Whether this node knows the address of any member but itself. */
  private knowsOtherMembers(): boolean {
    return Object.keys(this.addresses).some((id) => Number(id) !== this.nodeId);
  }

  /** What a restarted node told of another cluster's contact does, and what to do instead. */
  private foreignJoinAdvice(): string {
    return `this node's data directory makes it member ${this.name} of cluster ${this.clusterId}, which it stays in (--join does not move a member); to move it to the other cluster, remove it from this one (loghouse leave) and start it with a new data directory and --join`;
  }

  async close(): Promise<void> {
    // A graceful stop: the group hears this node left, and its Raft membership stays for its restart.
    await this.gossip?.leave();
    clearInterval(this.promoter);
    this.closing.abort(new LogClosedError("node closing"));
    this.forwarding.close(new ClusterUnavailableError("this node is shutting down; retry on another"));
    await this.restarts.idle();
    await this.removalWatch.idle();
    await this.replica.stop();
    await this.stateFile.close();
    this.server?.close();
    await this.transport.close();
    await this.log.close();
  }

  /**
   * From now on every peer and admin connection is mutual TLS: Raft connections must present a
   * certificate naming the node their hello claims, and admin requests are authorized below.
   */
  usePeerSecurity(security: PeerSecurity): void {
    this.peerSecurity = security;
    this.transport.usePeerTls(security.tls, (id) => (this.addresses[id] === undefined ? undefined : this.nameOf(id)), (certificate) => {
      try {
        security.authorize(certificatePrincipal(certificate), "replicate");
        return true;
      } catch {
        return false;
      }
    });
  }

  /**
   * Authorizes a member's request by the certificate of its connection (in a cluster with TLS): a node
   * joins (setting its address), asks whether it is a member, or tells of a removal only as itself (its
   * certificate names the node the request speaks for), and needs replicate.
   */
  private async handleAdminFrom(socket: Socket, request: AdminRequest): Promise<AdminResponse> {
    if (this.peerSecurity === undefined) return this.handleAdmin(request);
    const certificate = socket instanceof TLSSocket && socket.authorized ? socket.getPeerCertificate() : undefined;
    const speaksFor = request.op === "join" ? request.name : this.nameOf(request.op === "removed" ? request.leaderId : request.nodeId);
    if (!certificateNamesNode(certificate, speaksFor)) {
      this.logger.warn("admin request refused: the certificate does not name the node", { op: request.op, nodeId: speaksFor, principal: certificatePrincipal(certificate) });
      throw new PermissionDeniedError(`a ${request.op} request for node ${speaksFor} needs that node's certificate`);
    }
    this.peerSecurity.authorize(certificatePrincipal(certificate), "replicate");
    return this.handleAdmin(request);
  }

  private async handleAdmin(request: AdminRequest): Promise<AdminResponse> {
    const refusal = clusterRefusal(request.clusterId, this.clusterId);
    if (refusal !== undefined) {
      this.logger.warn("admin request from another cluster refused", { op: request.op, nodeId: request.nodeId, clusterId: this.clusterId, askerClusterId: request.clusterId });
      throw refusal;
    }
    if (request.op === "removed") {
      if (request.nodeId !== this.nodeId) throw new InvalidArgumentError(`this is node ${this.nodeId}, not ${request.nodeId}`);
      // A node still joining is not a member yet anyway.
      if (this.admitted) void this.removalWatch.confirm();
      return { ok: true, addresses: this.addresses };
    }
    if (!this.replica.isLeader) {
      const leaderAddress = this.leaderAddress;
      return { ok: false, error: "not the leader", ...(leaderAddress === undefined ? {} : { leaderAddress }) };
    }
    if (request.op === "member") {
      const { membership } = this.replica.status();
      // Every node ever admitted keeps its address here, so a leader that never knew the asker leads another cluster.
      const known = this.addresses[request.nodeId] !== undefined;
      return { ok: true, addresses: this.addresses, member: membership.voters.includes(request.nodeId) || membership.learners.includes(request.nodeId), known };
    }
    await this.admit(request);
    return { ok: true, addresses: this.addresses, names: this.names, ...clusterField(this.clusterId) };
  }

  /**
   * Leader only: admits a node that joins by name, taking the steps admission.ts decides one
   * membership change at a time (each logged with its reason), until it is a member. The joining
   * node's name and address are recorded before it is added, so that its answers are authenticated.
   */
  private async admit(candidate: JoinCandidate): Promise<void> {
    const fields = { name: candidate.name, nodeId: candidate.nodeId };
    for (let step = 1; ; step++) {
      // Raft's liveness, not gossip's: gossip knows members by name, which the candidate shares.
      const next = nextAdmissionStep(this.replica.status().membership, (id) => this.names[id], this.nodeId, candidate, (id) => this.liveness.of(id, true) === "alive");
      if (next.kind === "refused") {
        this.logger.warn("join refused", { ...fields, reason: next.reason });
        throw new InvalidArgumentError(next.reason);
      }
      if (next.kind === "admitted") {
        this.logger.info("join admitted", { ...fields, reason: next.reason });
        return;
      }
      if (step > ADMISSION_STEPS_MAX) throw new ClusterUnavailableError(`admitting ${candidate.name} did not settle within ${ADMISSION_STEPS_MAX} membership changes`);
      this.logger.info("admitting a joining node", { ...fields, change: describeMembershipChange(next.change), reason: next.reason });
      if (next.change.kind === MembershipChangeKind.AddLearner) await this.learnMembers({ [candidate.nodeId]: candidate.address }, { [candidate.nodeId]: candidate.name });
      await this.changeMembership(next.change);
      await this.untilApplied(next.change);
    }
  }

  /** Waits, for up to MEMBERSHIP_WAIT_ATTEMPTS_MAX short pauses, until `change` shows in the membership this node has applied. */
  private async untilApplied(change: MembershipChange): Promise<void> {
    for (let attempt = 1; typeof applyMembershipChange(this.replica.status().membership, change) !== "string"; attempt++) {
      if (attempt > MEMBERSHIP_WAIT_ATTEMPTS_MAX) throw new ClusterUnavailableError(`membership change ${describeMembershipChange(change)} committed but not applied in time`);
      await delay(50, undefined, { signal: this.closing.signal });
    }
  }

  /**
   * The Raft id of the member named `member`, else `member` read as a Raft id (a number); a name no
   * member has is an InvalidArgumentError.
   */
  private memberIdOf(member: string): number {
    const { voters, learners } = this.replica.status().membership;
    const named = [...voters, ...learners].find((id) => this.names[id] === member);
    if (named !== undefined) return named;
    if (!/^\d+$/.test(member)) throw new InvalidArgumentError(`no member is named ${member}`);
    return Number(member);
  }

  /** This node must lead to change the cluster: otherwise a NotLeaderError naming the leader (0 if unknown). */
  private requireLeader(): void {
    if (!this.replica.isLeader) throw new NotLeaderError("not the leader: ask the leader to change the cluster", this.replica.status().lead);
  }

  /** Removes `member`, a name or a Raft id (the Admin service's RemoveMember, on the leader); resolves once the change is committed. */
  async removeMember(member: string): Promise<void> {
    this.requireLeader();
    const nodeId = this.memberIdOf(member);
    const { membership } = this.replica.status();
    if (!membership.voters.includes(nodeId) && !membership.learners.includes(nodeId)) throw new InvalidArgumentError(`node ${member} is not a member`);
    if (membership.voters.includes(nodeId)) {
      // The voters left must still reach a quorum of their own: with another voter down, removing a
      // live one left a cluster that could elect no leader (and the removal answered success).
      const remaining = membership.voters.filter((id) => id !== nodeId);
      // Alive only if both views say so: gossip keeps a killed node alive for seconds, and Raft's view
      // of a node never heard since this one started counts it alive for its first window.
      const gossipLiveness = this.gossip?.liveness();
      const alive = remaining.filter((id) => id === this.nodeId || (this.liveness.of(id, true) === "alive" && (gossipLiveness?.(id) ?? "alive") === "alive"));
      if (remaining.length > 0 && alive.length < quorumOf(remaining.length)) {
        throw new InvalidArgumentError(
          `removing node ${this.nameOf(nodeId)} would leave ${alive.length} of its ${remaining.length} voters alive, fewer than their quorum of ${quorumOf(remaining.length)}: bring the others back first`,
        );
      }
    }
    await this.operatorChange(() => this.changeMembership({ kind: MembershipChangeKind.RemoveNode, nodeId }));
  }

  /**
   * Runs an operator's change; a refusal that is the operator's to fix (a change that does not apply,
   * a transfer to a node that cannot take over) is InvalidArgumentError, not "unavailable, retry".
   */
  private async operatorChange<T>(change: () => Promise<T> | T): Promise<T> {
    try {
      return await change();
    } catch (error) {
      const refused = error instanceof ProposalRefusedError && (error.reason === ProposeRejection.InvalidMembershipChange || error.reason === ProposeRejection.InvalidTransferTarget);
      if (!refused) throw error;
      throw new InvalidArgumentError(this.withNames(error.detail), { cause: error });
    }
  }

  /**
   * `text` with each Raft id of a current member shown as its name ("node 8714957817" becomes "node
   * n-3"); an old id stays a number, since a name that rejoined after losing its disk is bound to a new one.
   */
  private withNames(text: string): string {
    const { voters, learners } = this.replica.status().membership;
    const members = new Set([...voters, ...learners].map(String));
    return text.replace(/node (\d+)/g, (whole, id: string) => (members.has(id) && this.names[id] !== undefined ? `node ${this.names[id]}` : whole));
  }

  /** Hands leadership to voter `to` (on the leader) and waits, for up to TRANSFER_WAIT_ATTEMPTS_MAX short pauses, until this node has stepped down. */
  async transferLeadership(member: string): Promise<void> {
    this.requireLeader();
    const to = this.memberIdOf(member);
    // Already where it was asked to go: nothing to do (the core refuses a transfer to itself).
    if (to === this.nodeId) return;
    await this.operatorChange(() => this.replica.transferLeadership(to));
    for (let attempt = 1; this.replica.isLeader; attempt++) {
      if (attempt > TRANSFER_WAIT_ATTEMPTS_MAX) throw new ClusterUnavailableError(`leadership did not move to node ${member} in time (is it up and caught up?)`);
      await delay(50, undefined, { signal: this.closing.signal });
    }
  }

  /**
   * Proposes an operator's membership change, waiting its turn behind one already under way (a
   * learner's promotion, say) for up to MEMBERSHIP_WAIT_ATTEMPTS_MAX short pauses.
   */
  private async changeMembership(change: MembershipChange): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.replica.changeMembership(change);
      } catch (error) {
        const pending = error instanceof ProposalRefusedError && error.reason === ProposeRejection.MembershipChangePending;
        if (!pending || attempt >= MEMBERSHIP_WAIT_ATTEMPTS_MAX) throw error;
        await delay(50, undefined, { signal: this.closing.signal });
      }
    }
  }

  /**
   * Leader only: promotes learners, one at a time, once the core agrees they have caught up. Each
   * period asks for the next learner in turn, so that one that never catches up (down, or not a
   * Loghouse node at all) does not hold back those joining after it.
   */
  private promoteLearners(): void {
    if (this.promoting || !this.replica.isLeader) return;
    const { learners } = this.replica.status().membership;
    if (learners.length === 0) return;
    const learner = learners[this.promotionTurn++ % learners.length]!;
    this.promoting = true;
    this.replica
      .changeMembership({ kind: MembershipChangeKind.PromoteLearner, nodeId: learner })
      .catch((error: unknown) => {
        // Not caught up yet, or another change first: the next period asks again.
        if (error instanceof ProposalRefusedError && PROMOTION_WAITS.has(error.reason)) return;
        this.logger.warn("promoting a learner failed", { nodeId: learner, error });
      })
      .finally(() => {
        this.promoting = false;
      });
  }

  /** What the gossip layer reads from this node and asks of it (the autopilot removes through it). */
  private gossipHost(): GossipHost {
    return {
      name: this.name,
      nodeId: this.nodeId,
      address: this.address,
      isLeader: () => this.replica.isLeader,
      membership: () => this.replica.status().membership,
      nameOf: (id) => this.names[id],
      clusterId: () => this.clusterId,
      removeMember: (nodeId) => this.changeMembership({ kind: MembershipChangeKind.RemoveNode, nodeId }),
    };
  }

  /** A Raft message from a peer (a leader tells a node it removed that still speaks to ask about it). */
  /** Steps a peer's message; one out of protocol is a CodecError, which closes the connection it came on. */
  private receive(message: Message): void {
    if (!this.admitted || this.removal !== undefined) return;
    const refusal = outOfProtocol(message, () => this.replica.status());
    if (refusal !== undefined) throw new CodecError("out-of-protocol", refusal);
    this.liveness.heard(message.from);
    this.reachability.heard(message.from);
    this.roundTrips.received(message);
    if (this.replica.isLeader) this.removalWatch.heardFrom(message.from);
    this.replica.receive(message);
  }

  /** Stops taking part in the cluster for good: Raft stops, and reads, writes and waits fail with NodeRemovedError. */
  private stopServing(reason: string): void {
    if (this.removal !== undefined) return;
    this.removal = reason;
    this.logger.warn("removed from the cluster: no longer serving", { nodeId: this.nodeId, reason });
    clearInterval(this.promoter);
    void this.gossip?.leave();
    void this.replica.stop(new NodeRemovedError(reason));
    this.setServing(false);
  }

  /**
   * Damaged records were met (by the replica, which stopped, or by a reader): the log is repaired
   * from the peers, unless a repair is under way already.
   */
  damageFound(error: DataLossError): void {
    if (this.restarts.pausedBecause !== undefined) return;
    this.logger.error("a damaged record was read on this node; repairing the log from the peers", { error });
    void this.repairDamage();
  }

  /** Repairs the log from the peers with Raft stopped, then starts a new replica over it. */
  private repairDamage(): Promise<void> {
    return this.restarts.pauseFor("repairing damaged records from the peers", new ClusterUnavailableError("this node is repairing damaged records from its peers; retry shortly"), async () => {
      try {
        const replaced = await this.rangeRepair.run(this.closing.signal);
        // The new replica starts from the state file: bring the latest commit index into it.
        await this.stateFile.update({});
        this.logger.warn("log repaired from the peers: Raft restarts", { recordsReplaced: replaced });
        return true;
      } catch (error) {
        if (!this.closing.signal.aborted) this.logger.error("repairing the log failed: Raft stays stopped on this node", { error });
        return false;
      }
    });
  }

  /** Stops the process, loudly (its peers go on without it): it restarts over a reopened log. */
  private stopProcess(error: unknown): void {
    this.logger.error("the log or the Raft state failed: the node stops (restart it once the disk is fixed; its peers go on without it)", { error });
    queueMicrotask(() => {
      throw error;
    });
  }

  /** A repair message from a peer: a request is answered from this node's log, a response goes to the repair under way. */
  private receiveRepair(message: RepairMessage): void {
    if (message.type === "repair-request") this.transport.sendRepair(answerRepairRequest(this.log, this.nodeId, message));
    else this.rangeRepair.receive(message);
  }

  /** Learns member addresses and removals from applied membership changes. */
  private applied(entries: readonly Entry[]): void {
    const learned: Record<string, string> = {};
    const names: Record<string, string> = {};
    for (const entry of entries) {
      if (entry.type !== EntryType.Membership) continue;
      const change = decodeMembershipChange(entry.data);
      const card = decodeMemberCard(change.address ?? "");
      this.removalWatch.applied(change);
      this.logMembershipChange(change, card);
      if (change.kind === MembershipChangeKind.RemoveNode) {
        this.reachability.forget(change.nodeId);
        this.liveness.forget(change.nodeId);
        if (change.nodeId !== this.nodeId) this.transport.removePeer(change.nodeId);
      }
      if (change.address === undefined || change.address === "") continue;
      learned[change.nodeId] = card.address;
      if (card.name !== undefined) names[change.nodeId] = card.name;
    }
    if (Object.keys(learned).length === 0) return;
    this.learnMembers(learned, names).catch((error: unknown) => this.logger.warn("recording member addresses failed", { error }));
  }

  /** One line per applied membership change (each member logs the changes it applies). */
  private logMembershipChange(change: MembershipChange, card: ReturnType<typeof decodeMemberCard>): void {
    const fields = { nodeId: this.nodeId, member: card.name ?? this.nameOf(change.nodeId), memberId: change.nodeId };
    if (change.kind === MembershipChangeKind.AddLearner) this.logger.info("member joined as a learner", { ...fields, address: card.address });
    else if (change.kind === MembershipChangeKind.PromoteLearner) this.logger.info("member promoted to voter", fields);
    else if (change.kind === MembershipChangeKind.RemoveNode) this.logger.info("member removed", fields);
  }

  /**
   * Records members' addresses and names (by Raft id) durably, and dials the new addresses; with the
   * cluster's id from a leader's join answer when this node has none yet (a node admitted before it
   * kept the answer learns it on its next join).
   */
  private async learnMembers(addresses: Readonly<Record<string, string>>, names: Readonly<Record<string, string>>, clusterId?: string): Promise<void> {
    for (const [id, address] of Object.entries(addresses)) if (Number(id) !== this.nodeId) this.transport.setPeer(Number(id), address);
    await this.stateFile.update((current) => ({
      addresses: { ...current.addresses, ...addresses, [this.nodeId]: this.options.address },
      names: { ...current.names, ...names, [this.nodeId]: this.name },
      ...(current.clusterId === undefined && clusterId !== undefined ? { clusterId: parseClusterId(clusterId, "the join answer's clusterId") } : {}),
    }));
  }
}
