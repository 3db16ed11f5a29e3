// A deterministic simulator for the SWIM core: N members on the simulator's lossy network (src/sim),
// one seeded random source, simulated time. Every message goes through the real codec, so sizes and
// strict decoding are exercised, and bytes are counted as the UDP transport would send them (sealed).
// Tests and bench/gossip.ts drive it: start members, join them, kill, partition, heal, leave, and read
// each member's view and the time-stamped events.
import { SeededRandom } from "../raft/random.ts";
import { EventQueue } from "../sim/event-queue.ts";
import { Network, type NetworkFaults } from "../sim/network.ts";
import { decodeGossip, encodeGossip } from "./gossip-codec.ts";
import { defaultGossipConfig, type GossipConfig } from "./gossip-config.ts";
import { SEAL_OVERHEAD_BYTES } from "./gossip-seal.ts";
import type { MemberView, MembershipEvent } from "./member.ts";
import { SwimCore } from "./swim-core.ts";

export interface SimulatedEvent {
  readonly atMs: number;
  /** The member that saw it. */
  readonly at: number;
  readonly event: MembershipEvent;
}

interface SimulatedMember {
  core: SwimCore | undefined;
  up: boolean;
  bytesSent: number;
}

/** How often each simulated member's core is ticked. */
const TICK_MS = 10;

export class GossipSimulation {
  readonly queue = new EventQueue();
  readonly network: Network;
  readonly events: SimulatedEvent[] = [];
  private readonly random: SeededRandom;
  private readonly nodes: SimulatedMember[] = [];
  decodeFailures = 0;

  constructor(
    readonly seed: number,
    readonly size: number,
    readonly config: GossipConfig = defaultGossipConfig,
    faults?: NetworkFaults,
  ) {
    this.random = new SeededRandom(seed);
    this.network = new Network(this.queue, this.random, (to, bytes) => this.deliver(to, bytes));
    if (faults !== undefined) this.network.faults = faults;
    for (let i = 0; i < size; i++) this.nodes.push({ core: undefined, up: false, bytesSent: 0 });
  }

  static nameOf(index: number): string {
    return `node-${index}`;
  }

  static addressOf(index: number): string {
    return `10.0.${index >> 8}.${index & 255}:8400`;
  }

  /** Starts member `index` afresh (a new process: incarnation 0) and joins it through `seeds`. */
  start(index: number, seeds: readonly number[] = []): void {
    const node = this.nodes[index] as SimulatedMember;
    const core = new SwimCore(
      { name: GossipSimulation.nameOf(index), address: GossipSimulation.addressOf(index), role: "voter" },
      this.config,
      new SeededRandom(this.random.nextUint32()),
      this.queue.now,
    );
    node.core = core;
    node.up = true;
    core.join(seeds.map(GossipSimulation.addressOf), this.queue.now);
    this.flush(index);
    const tick = () => {
      if (!node.up || node.core !== core) return;
      core.tick(this.queue.now);
      this.flush(index);
      this.queue.schedule(TICK_MS, tick);
    };
    this.queue.schedule(1 + this.random.intBelow(TICK_MS), tick);
  }

  /** Stops member `index` at once, as a crash would. */
  kill(index: number): void {
    (this.nodes[index] as SimulatedMember).up = false;
  }

  core(index: number): SwimCore {
    const core = (this.nodes[index] as SimulatedMember).core;
    if (core === undefined) throw new Error(`member ${index} never started`);
    return core;
  }

  /** Member `index`'s graceful leave (it keeps running until killed, as a draining node does). */
  leave(index: number): void {
    this.core(index).leave(this.queue.now);
    this.flush(index);
  }

  setRole(index: number, role: string): void {
    this.core(index).setRole(role, this.queue.now);
    this.flush(index);
  }

  /** Member `at`'s view of member `of`, if it knows it. */
  viewOf(at: number, of: number): MemberView | undefined {
    return this.core(at).member(GossipSimulation.nameOf(of));
  }

  bytesSent(index: number): number {
    return (this.nodes[index] as SimulatedMember).bytesSent;
  }

  runFor(ms: number): void {
    const end = this.queue.now + ms;
    while (this.queue.peekTime() <= end) this.queue.runNext();
    this.queue.now = end;
  }

  /** Runs until `done()` holds (checked every tick) and returns the time it took, or undefined after `limitMs`. */
  runUntil(done: () => boolean, limitMs: number): number | undefined {
    const start = this.queue.now;
    while (this.queue.now - start < limitMs) {
      if (done()) return this.queue.now - start;
      this.runFor(TICK_MS);
    }
    return done() ? this.queue.now - start : undefined;
  }

  /** The indexes of the members that are up. */
  upMembers(): number[] {
    return this.nodes.flatMap((node, i) => (node.up ? [i] : []));
  }

  private flush(index: number): void {
    const node = this.nodes[index] as SimulatedMember;
    const core = node.core as SwimCore;
    for (const event of core.takeEvents()) this.events.push({ atMs: this.queue.now, at: index, event });
    for (const { to, message } of core.takeOutbox()) {
      const payload = encodeGossip(message, this.config.messageBytesMax);
      node.bytesSent += payload.length + SEAL_OVERHEAD_BYTES;
      const envelope = Buffer.alloc(2 + payload.length);
      envelope.writeUInt16LE(index, 0);
      payload.copy(envelope, 2);
      this.network.send(index, indexOfAddress(to), envelope);
    }
  }

  private deliver(to: number, envelope: Uint8Array): void {
    const node = this.nodes[to] as SimulatedMember;
    if (!node.up || node.core === undefined) return;
    const from = envelope[0]! | (envelope[1]! << 8);
    const decoded = decodeGossip(envelope.subarray(2), this.config.messageBytesMax);
    if (!decoded.ok) {
      this.decodeFailures++;
      return;
    }
    node.core.receive(GossipSimulation.addressOf(from), decoded.message, this.queue.now);
    this.flush(to);
  }
}

function indexOfAddress(address: string): number {
  const [, , high, low] = address.split(":")[0]!.split(".").map(Number);
  return (high as number) * 256 + (low as number);
}
