// The routing client's picture of the cluster: its members' addresses and which one leads, learned
// from GetServers. Any seed address will do to start. A refresh asks every known address at once
// and ends with the first answer that names a leader, so one silent member costs nothing. Members
// are dialled at the addresses they advertise (--advertise), which must be reachable from the
// client; a node alone is dialled where it was reached. Members whose calls failed are passed over for a
// while when picking where to read. When no address can even be connected to, there is nobody to
// wait for: that failure is final.
import { ClusterUnavailableError, InvalidArgumentError, RpcCode, RpcError } from "../errors.ts";
import { NotConnectedError } from "./node-channel.ts";
import type { Server } from "../gen/log/v1/log_pb.ts";

/**
 * No address could even be connected to: the cluster (or the one node) is down or the addresses are
 * wrong. Calls fail at once, as a call to one unreachable node does, instead of retrying.
 */
export class MembersUnreachableError extends RpcError {
  constructor(message: string) {
    super(message, RpcCode.unavailable);
  }
}

/** Asks the node at `address` for its members (GetServers), within `deadline` (ms since the epoch). */
export type AskServers = (address: string, deadline: number) => Promise<Server[]>;

export class ClusterView {
  private members: readonly Server[] = [];
  private leader: string | undefined;
  private refreshing: Promise<void> | undefined;
  /** How many refreshes have started. */
  private refreshes = 0;
  private readCursor = 0;
  /** Address → until when (ms since the epoch) it is passed over for reads. */
  private readonly resting = new Map<string, number>();

  constructor(
    private readonly seeds: readonly string[],
    private readonly ask: AskServers,
    /** How long a member whose call failed is passed over for reads. */
    private readonly restMs: number,
    /** How long a connection attempt may take before it is given up (see NodeChannel.connect). */
    private readonly connectTimeoutMs: number,
  ) {
    if (seeds.length === 0) throw new InvalidArgumentError("the client needs at least one address");
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
        if (error instanceof MembersUnreachableError) throw error;
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

  /** Asks every known address for its members; one refresh at a time (callers share it). */
  refresh(deadline: number): Promise<void> {
    this.refreshing ??= this.askAll(deadline).finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  /**
   * The first answer naming a leader ends the refresh; an answer that comes later from a higher
   * term still replaces it (a node that just woke up may name the leader it knew before a failover).
   */
  private async askAll(deadline: number): Promise<void> {
    const generation = ++this.refreshes;
    let termSeen = -1n;
    const answers = this.addresses().map(async (address) => {
      const servers = reachedAs(address, await this.ask(address, deadline));
      const leader = servers.find((server) => server.isLeader && server.rpcAddr !== "");
      if (leader === undefined) throw new ClusterUnavailableError(`${address} knows no leader`);
      // A late answer of an older refresh says nothing newer than the refresh that followed it.
      if (generation !== this.refreshes || leader.term <= termSeen) return;
      termSeen = leader.term;
      this.members = servers;
      this.leader = leader.rpcAddr;
    });
    try {
      await Promise.any(answers);
    } catch (error) {
      // Every member failed or knew no leader: say why, a member that answered first (before: the
      // first seed's reason, so "cannot reach" hid members that were up and knew no leader).
      const reasons = (error as AggregateError).errors;
      if (reasons.every((reason) => reason instanceof NotConnectedError)) throw new MembersUnreachableError((reasons[0] as Error).message);
      throw reasons.find((reason) => reason instanceof ClusterUnavailableError) ?? reasons[0];
    }
  }

  /** Seeds and learned members, each once. */
  private addresses(): string[] {
    return [...new Set([...this.seeds, ...this.members.map((member) => member.rpcAddr).filter((address) => address !== "")])];
  }
}

/**
 * A node alone answers for itself, and the address it was reached at is known to work from here,
 * unlike the one it advertises (a container's listen address behind a port mapping, say).
 */
function reachedAs(address: string, servers: Server[]): Server[] {
  return servers.length === 1 ? [{ ...servers[0]!, rpcAddr: address }] : servers;
}
