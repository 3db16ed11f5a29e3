// A node's gossip membership: the SWIM core (swim-core.ts) driven by the node's timers over the UDP
// transport on the node's port number (udp-transport.ts). This is the piece the cluster layer holds:
// it starts it beside the TCP listener, joins through `--join` addresses, reads `members()` and
// subscribes to events (a leader turns joined / dead / left into Raft membership changes), and calls
// `leave()` on SIGTERM before it stops.
import { randomInt } from "node:crypto";
import { ClusterUnavailableError, InvalidArgumentError } from "../errors.ts";
import { parsePeerAddress } from "../cluster/outbound-peer.ts";
import { systemTimers, type Timers } from "../cluster/timers.ts";
import { SeededRandom, type RandomSource } from "../raft/random.ts";
import { decodeGossip, encodeGossip, type DecodeFailure } from "./gossip-codec.ts";
import { defaultGossipConfig, validateGossipConfig, type GossipConfig } from "./gossip-config.ts";
import { ADDRESS_BYTES_MAX, NAME_BYTES_MAX, ROLE_BYTES_MAX, type MemberView, type MembershipEvent } from "./member.ts";
import { SwimCore, type NameYield, type SwimCounters, type SwimIdentity } from "./swim-core.ts";
import { UdpTransport, type UdpTransportCounters } from "./udp-transport.ts";

export interface MembershipOptions extends SwimIdentity {
  /**
   * The host to bind, on the advertised address's port number unless `port` says otherwise (a node
   * behind NAT); an advertised port of 0 binds any free port and advertises the one bound.
   */
  readonly bindHost: string;
  readonly port?: number;
  /** The cluster's 32-byte gossip key; undefined for plaintext (loopback or --insecure). */
  readonly key?: Buffer;
  readonly config?: Partial<GossipConfig>;
  readonly timers?: Timers;
  readonly random?: RandomSource;
  /** Whom this node lets hold its name (default: nobody; see NameYield). */
  readonly yieldsName?: NameYield;
}

export interface MembershipStats {
  readonly transport: Readonly<UdpTransportCounters>;
  readonly core: Readonly<SwimCounters>;
  readonly decodeFailures: Readonly<Partial<Record<DecodeFailure, number>>>;
  /** Lifeguard's local health score (0: healthy). */
  readonly healthScore: number;
}

export class Membership {
  private readonly listeners = new Set<(event: MembershipEvent) => void>();
  private readonly decodeFailures: Partial<Record<DecodeFailure, number>> = {};
  private readonly stopTicking: () => void;
  private closed = false;
  private lastNowMs: number;

  private constructor(
    /** The advertised host:port, as the other members know this node. */
    readonly address: string,
    private readonly core: SwimCore,
    private readonly transport: UdpTransport,
    private readonly config: GossipConfig,
    private readonly timers: Timers,
    startMs: number,
  ) {
    this.lastNowMs = startMs;
    transport.onReceive((from, payload) => this.received(from, payload));
    const tickMs = Math.max(5, Math.floor(Math.min(config.probeTimeoutMs, config.gossipIntervalMs) / 10));
    this.stopTicking = timers.every(tickMs, () => this.drive(() => core.tick(this.now())));
  }

  /** Binds the gossip socket and starts probing (alone until `join`). */
  static async start(options: MembershipOptions): Promise<Membership> {
    const config = validateGossipConfig({ ...defaultGossipConfig, ...options.config });
    const timers = options.timers ?? systemTimers;
    const { host, port: advertisedPort } = parseAdvertised(options);
    const random = options.random ?? new SeededRandom(randomInt(2 ** 47));
    const transport = await UdpTransport.open({ host: options.bindHost, port: options.port ?? advertisedPort, key: options.key });
    const address = advertisedPort === 0 ? `${host.includes(":") ? `[${host}]` : host}:${transport.port}` : options.address;
    const identity = { name: options.name, address, role: options.role };
    const startMs = timers.now();
    return new Membership(address, new SwimCore(identity, config, random, startMs, options.yieldsName), transport, config, timers, startMs);
  }

  /**
   * Joins the group through any of `addresses` (host:port of members), asking each again every probe
   * interval; resolves with the address of the first that answered, or rejects with
   * ClusterUnavailableError after `timeoutMs` (the core keeps trying in the background).
   */
  async join(addresses: readonly string[], timeoutMs = 10_000): Promise<string> {
    const answered = new Promise<string>((resolve, reject) => {
      const cancelTimer = this.timers.after(timeoutMs, () => {
        unsubscribe();
        reject(new ClusterUnavailableError(`no member answered a join within ${timeoutMs} ms: ${addresses.join(", ")}`));
      });
      const unsubscribe = this.subscribe((event) => {
        if (event.type !== "synced") return;
        cancelTimer();
        unsubscribe();
        resolve(event.address);
      });
    });
    this.drive(() => this.core.join(addresses, this.now()));
    return answered;
  }

  /**
   * Tells the group this node is leaving (members record it as left, not dead), waits until the news
   * has been sent its full number of times or `timeoutMs` passed, and closes.
   */
  async leave(timeoutMs = 2_000): Promise<void> {
    if (this.closed) return;
    this.drive(() => this.core.leave(this.now()));
    await new Promise<void>((resolve) => {
      const stopWaiting = this.timers.after(timeoutMs, finish);
      const stopPolling = this.timers.every(this.config.gossipIntervalMs / 4, () => {
        if (this.core.pendingBroadcasts() === 0) finish();
      });
      function finish(): void {
        stopWaiting();
        stopPolling();
        resolve();
      }
    });
    await this.close();
  }

  /** Stops at once, telling nobody (what a crash looks like to the others). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopTicking();
    await this.transport.close();
  }

  /** Every member this node knows, itself included. */
  members(): MemberView[] {
    return this.core.memberViews();
  }

  /** Changes this node's role (say learner to voter) and spreads it. */
  setRole(role: string): void {
    this.drive(() => this.core.setRole(role, this.now()));
  }

  /** Calls `listener` with every membership event until the returned function is called. */
  subscribe(listener: (event: MembershipEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  stats(): MembershipStats {
    return { transport: { ...this.transport.counters }, core: { ...this.core.counters }, decodeFailures: { ...this.decodeFailures }, healthScore: this.core.healthScore() };
  }

  private received(from: string, payload: Buffer): void {
    const decoded = decodeGossip(payload, this.config.messageBytesMax);
    if (!decoded.ok) {
      this.decodeFailures[decoded.reason] = (this.decodeFailures[decoded.reason] ?? 0) + 1;
      return;
    }
    this.drive(() => this.core.receive(from, decoded.message, this.now()));
  }

  /** The timers' clock, never going backwards (the core asserts it does not: a wall clock can be stepped). */
  private now(): number {
    this.lastNowMs = Math.max(this.lastNowMs, this.timers.now());
    return this.lastNowMs;
  }

  /** Runs one input of the core, then sends what it produced and reports its events. */
  private drive(input: () => void): void {
    if (this.closed) return;
    input();
    for (const { to, message } of this.core.takeOutbox()) this.transport.send(to, encodeGossip(message, this.config.messageBytesMax));
    for (const event of this.core.takeEvents()) for (const listener of this.listeners) listener(event);
  }
}

/** Checks the identity's limits and splits the advertised host:port (port 0: advertise the one bound). */
function parseAdvertised(options: MembershipOptions): { host: string; port: number } {
  for (const [field, value, bytesMax] of [["name", options.name, NAME_BYTES_MAX], ["address", options.address, ADDRESS_BYTES_MAX], ["role", options.role, ROLE_BYTES_MAX]] as const) {
    const bytes = Buffer.byteLength(value, "utf8");
    if (bytes > bytesMax || (bytes === 0 && field !== "role")) throw new InvalidArgumentError(`a member's ${field} is 1 to ${bytesMax} bytes, got ${JSON.stringify(value)}`);
  }
  if (options.address.endsWith(":0")) return { host: parsePeerAddress(`${options.address.slice(0, -1)}1`).host, port: 0 };
  return parsePeerAddress(options.address);
}
