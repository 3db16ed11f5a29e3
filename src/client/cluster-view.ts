// The routing client's picture of the cluster: its members' addresses and which one leads, learned
// from GetServers. Any seed address will do to start. A refresh asks every known address at once
// and ends with the first answer that names a leader, so one silent member costs nothing. Members
// are dialled at the addresses they advertise (--advertise), which must be reachable from the
// client; a node alone is dialled where it was reached. Members whose calls failed are passed over for a
// while when picking where to read. When no address can even be connected to, or those that can are
// of nodes removed from the cluster, there is nobody to wait for: that failure is final.
//
// Each answer names its cluster (src/wire/cluster-id.ts). The view keeps to one: the one the caller
// named, else the one its seeds answer for. Until then a refresh hears the seeds out: it also waits
// for each seed that the answer naming a leader does not list as a member, so that seeds answering
// for two clusters are reported as the mistake they are, never settled by which answered first.
// Later answers for another cluster are refused, and the client names its cluster in every call,
// which a node of another cluster refuses.
import { ClusterMismatchError, ClusterUnavailableError, InvalidArgumentError, NodeRemovedError, RpcCode, RpcError } from "../errors.ts";
import { NotConnectedError, pastDeadline } from "./node-channel.ts";
import type { GetServersResponse, Server } from "../gen/log/v1/log_pb.ts";

/**
 * No address could even be connected to: the cluster (or the one node) is down or the addresses are
 * wrong. Calls fail at once, as a call to one unreachable node does, instead of retrying.
 */
export class MembersUnreachableError extends RpcError {
  constructor(message: string) {
    super(message, RpcCode.unavailable);
  }
}

/**
 * Every address known is of a node removed from the cluster, or cannot be connected to: nobody is
 * left to ask (a removed node knows the members no more), so calls fail at once, as with
 * MembersUnreachableError, instead of asking the removed node again until the deadline.
 */
export class MembersRemovedError extends NodeRemovedError {}

/** Asks the node at `address` for its members and its cluster (GetServers), within `deadline` (ms since the epoch). */
export type AskServers = (address: string, deadline: number) => Promise<GetServersResponse>;

/** One member's answer that names a leader. */
interface LeaderAnswer {
  readonly servers: Server[];
  readonly leader: Server;
}

export class ClusterView {
  private members: readonly Server[] = [];
  private leader: string | undefined;
  /** The refresh under way, and the deadline it was started with. */
  private refreshing: { readonly deadline: number; readonly done: Promise<void> } | undefined;
  /** How many refreshes have started. */
  private refreshes = 0;
  private readCursor = 0;
  /** Whether a refresh has heard the seeds out (hearSeeds) and found them answering for one cluster, or none that names one. */
  private seedsHeard = false;
  /** Address → until when (ms since the epoch) it is passed over for reads. */
  private readonly resting = new Map<string, number>();

  constructor(
    private readonly seeds: readonly string[],
    private readonly ask: AskServers,
    /** How long a member whose call failed is passed over for reads. */
    private readonly restMs: number,
    /** How long a connection attempt may take before it is given up (see NodeChannel.connect). */
    private readonly connectTimeoutMs: number,
    /** The cluster the caller means, if it named one; else the one the seeds answer for, once known. */
    private cluster: string | undefined,
  ) {
    if (seeds.length === 0) throw new InvalidArgumentError("the client needs at least one address");
  }

  /** The id of the cluster this view keeps to, once known (undefined: a node alone, or members that know none). */
  get clusterId(): string | undefined {
    return this.cluster;
  }

  /** The leader's address, asking the cluster first if it is not known. */
  async leaderAddress(deadline: number): Promise<string> {
    if (this.leader === undefined) await this.refresh(deadline);
    if (this.leader === undefined) throw new ClusterUnavailableError("no member names a leader now (an election may be under way)");
    return this.leader;
  }

  /**
   * Where to send the next read: the followers in turn (committed reads; one resting after a failure
   * is passed over), the leader when no follower is left, a seed when nothing is known yet.
   */
  async readerAddress(deadline: number): Promise<string> {
    if (this.members.length === 0) {
      // Reads need no leader: without one, the seeds are asked; only if none can be reached is it over.
      await this.refresh(deadline).catch((error: unknown) => {
        if (error instanceof MembersUnreachableError || error instanceof MembersRemovedError || error instanceof ClusterMismatchError) throw error;
      });
    }
    const now = Date.now();
    const awake = (address: string): boolean => (this.resting.get(address) ?? 0) <= now;
    const followers = this.members.filter((member) => !member.isLeader && member.rpcAddr !== "").map((member) => member.rpcAddr);
    const candidates = [followers.filter(awake), this.leader === undefined ? [] : [this.leader].filter(awake), this.addresses().filter(awake), this.addresses()];
    const pool = candidates.find((list) => list.length > 0)!;
    return pool[this.readCursor++ % pool.length]!;
  }

  /** The leader's address as last learned (undefined: not known). */
  get knownLeader(): string | undefined {
    return this.leader;
  }

  /**
   * A call to `address` failed in a way that says the picture may be old: rest it, and learn the
   * leader again before the next write. One that took a connection and did not complete it within
   * the connect bound (`unreachable`: paused or overwhelmed, costing that bound each time) rests until
   * every other member could have had its turn, so that reads do not go round such members while a
   * live one waits. One that refused it (down, restarting) costs nothing to try again and rests as any.
   */
  failed(address: string, unreachable: boolean): void {
    this.rest(address, unreachable ? this.restMs + this.connectTimeoutMs * this.addresses().length : this.restMs);
    this.leader = undefined;
  }

  /** Passes `address` over for reads for `forMs` (default: the rest after a failed call). */
  rest(address: string, forMs = this.restMs): void {
    this.resting.set(address, Date.now() + forMs);
  }

  /**
   * Asks every known address for its members; one refresh at a time (callers share it). A caller
   * whose deadline is later than the refresh's is not failed by the refresh's: it asks again.
   */
  refresh(deadline: number): Promise<void> {
    this.refreshing ??= { deadline, done: this.askAll(deadline).finally(() => (this.refreshing = undefined)) };
    const shared = this.refreshing;
    if (shared.deadline >= deadline) return shared.done;
    return shared.done.catch((error: unknown) => {
      if (pastDeadline(error)) return this.refresh(deadline);
      throw error;
    });
  }

  /**
   * The first answer naming a leader ends the refresh; an answer that comes later from a higher
   * term still replaces it (a node that just woke up may name the leader it knew before a failover).
   * Until the cluster is known, a refresh hears the seeds out instead (hearSeeds).
   */
  private async askAll(deadline: number): Promise<void> {
    const generation = ++this.refreshes;
    let termSeen = -1n;
    const take = (answer: LeaderAnswer): void => {
      // A late answer of an older refresh says nothing newer than the refresh that followed it.
      if (generation !== this.refreshes || answer.leader.term <= termSeen) return;
      termSeen = answer.leader.term;
      this.members = answer.servers;
      this.leader = answer.leader.rpcAddr;
    };
    const asks = this.addresses().map((address) => ({ address, answer: this.ask(address, deadline) }));
    if (this.cluster === undefined && !this.seedsHeard) {
      const heard = await this.hearSeeds(asks);
      // Only now, once the seeds are heard out, is the leader known: a call made meanwhile waits
      // for this refresh, and none goes to a node whose cluster was not yet checked.
      this.cluster = heard.cluster;
      this.seedsHeard = heard.cluster !== undefined || heard.leader !== undefined;
      if (heard.leader === undefined) throw heard.failure;
      take(heard.leader);
      return;
    }
    try {
      await Promise.any(asks.map(({ address, answer }) => answer.then((heard) => take(this.leaderIn(address, heard)))));
    } catch (error) {
      throw refreshFailure((error as AggregateError).errors);
    }
  }

  /**
   * Hears the seeds out: ends once an answer names a leader and every seed not yet heard from is a
   * member the newest such answer lists (a silent member costs nothing), or once every seed has
   * answered or failed. Resolves with the cluster they answer for and the newest leader answer, or
   * why there is none; answers for two clusters are a ClusterMismatchError, never settled by which
   * came first (a second cluster's node, a member bootstrapped again, lists only itself, so the
   * first cluster's members are waited for).
   */
  private hearSeeds(
    asks: ReadonlyArray<{ readonly address: string; readonly answer: Promise<GetServersResponse> }>,
  ): Promise<{ readonly cluster: string | undefined; readonly leader: LeaderAnswer | undefined; readonly failure: unknown }> {
    return new Promise((resolve, reject) => {
      const unheard = new Set(asks.map(({ address }) => address));
      const byCluster = new Map<string, string[]>();
      const reasons: unknown[] = [];
      let newest: (LeaderAnswer & { readonly clusterId: string }) | undefined;
      let ended = false;
      const judge = (): void => {
        if (ended) return;
        const listed = new Set(newest?.servers.map((server) => server.rpcAddr));
        const cluster = byCluster.size === 1 ? byCluster.keys().next().value : undefined;
        if (byCluster.size > 1) {
          ended = true;
          reject(mixedClusters(byCluster));
        } else if (newest !== undefined && (newest.clusterId === "" || [...unheard].every((address) => listed.has(address)))) {
          ended = true;
          resolve({ cluster, leader: newest, failure: undefined });
        } else if (unheard.size === 0) {
          ended = true;
          resolve({ cluster, leader: undefined, failure: refreshFailure(reasons) });
        }
      };
      for (const { address, answer } of asks) {
        answer.then(
          (heard) => {
            unheard.delete(address);
            if (heard.clusterId !== "") byCluster.set(heard.clusterId, [...(byCluster.get(heard.clusterId) ?? []), address]);
            try {
              const found = this.leaderIn(address, heard);
              if (newest === undefined || found.leader.term > newest.leader.term) newest = { ...found, clusterId: heard.clusterId };
            } catch (error) {
              reasons.push(error);
            }
            judge();
          },
          (error: unknown) => {
            unheard.delete(address);
            reasons.push(error);
            judge();
          },
        );
      }
    });
  }

  /** The members and leader in `address`'s answer; ClusterMismatchError if it answers for another cluster, ClusterUnavailableError if it knows no leader. */
  private leaderIn(address: string, answer: GetServersResponse): LeaderAnswer {
    if (this.cluster !== undefined && answer.clusterId !== "" && answer.clusterId !== this.cluster) {
      throw new ClusterMismatchError(`${address} answers for cluster ${answer.clusterId}, not for cluster ${this.cluster}`);
    }
    const servers = reachedAs(address, answer.servers);
    const leader = servers.find((server) => server.isLeader && server.rpcAddr !== "");
    if (leader === undefined) throw new ClusterUnavailableError(`${address} knows no leader`);
    return { servers, leader };
  }

  /** Seeds and learned members, each once. */
  private addresses(): string[] {
    return [...new Set([...this.seeds, ...this.members.map((member) => member.rpcAddr).filter((address) => address !== "")])];
  }
}

/** The error for seeds that answer for two clusters or more (cluster id → addresses). */
function mixedClusters(byCluster: ReadonlyMap<string, readonly string[]>): ClusterMismatchError {
  const clusters = [...byCluster].map(([clusterId, addresses]) => `${clusterId} at ${addresses.join(", ")}`).join("; ");
  return new ClusterMismatchError(
    `the addresses given answer for ${byCluster.size} clusters (${clusters}): a member that lost its data was started with --bootstrap instead of --join, or the addresses mix clusters; give the addresses of one cluster, or name it (clusterId, --cluster-id)`,
  );
}

/**
 * Why a refresh found no leader, from every member's failure: unreachable if none could even be
 * connected to; removed if the others answered that they were removed from the cluster; else a member that answered without a leader (an election, worth waiting for), else
 * one of another cluster, else the call's deadline if it passed, else the first reason.
 */
function refreshFailure(reasons: readonly unknown[]): unknown {
  if (reasons.every((reason) => reason instanceof NotConnectedError)) return new MembersUnreachableError((reasons[0] as Error).message);
  const removed = reasons.find((reason) => reason instanceof NodeRemovedError);
  if (removed !== undefined && reasons.every((reason) => reason instanceof NotConnectedError || reason instanceof NodeRemovedError)) {
    return new MembersRemovedError(`${removed.message}, and no other member is known: give the address of a member of the cluster`);
  }
  return (
    reasons.find((reason) => reason instanceof ClusterUnavailableError) ??
    reasons.find((reason) => reason instanceof ClusterMismatchError) ??
    reasons.find(pastDeadline) ??
    reasons[0]
  );
}

/**
 * A node alone answers for itself, and the address it was reached at is known to work from here,
 * unlike the one it advertises (a container's listen address behind a port mapping, say).
 */
function reachedAs(address: string, servers: Server[]): Server[] {
  return servers.length === 1 ? [{ ...servers[0]!, rpcAddr: address }] : servers;
}
