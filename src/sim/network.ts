import { assert } from "../raft/assert.ts";
import type { SeededRandom } from "../raft/random.ts";
import type { EventQueue } from "./event-queue.ts";

/** How the simulated network misbehaves; all rates are probabilities per message. */
export interface NetworkFaults {
  dropRate: number;
  duplicateRate: number;
  /** Delivery delay is latencyMinMs + a uniform draw below latencyJitterMs (so messages reorder). */
  latencyMinMs: number;
  latencyJitterMs: number;
}

export const perfectNetwork: NetworkFaults = { dropRate: 0, duplicateRate: 0, latencyMinMs: 0, latencyJitterMs: 0 };

/**
 * A network that drops, delays, reorders and duplicates messages, and blocks directed links to model
 * partitions (symmetric or one-way). Blocked links are checked when sending and again on delivery.
 */
export class Network {
  faults: NetworkFaults = perfectNetwork;
  private readonly blocked = new Set<number>();

  constructor(
    private readonly queue: EventQueue,
    private readonly random: SeededRandom,
    private readonly deliver: (to: number, bytes: Uint8Array) => void,
  ) {}

  /** Sends a message encoded as `bytes` from `from` to `to`. */
  send(from: number, to: number, bytes: Uint8Array): void {
    if (this.isBlocked(from, to)) return;
    const faults = this.faults;
    if (faults.dropRate > 0 && this.random.chance(faults.dropRate)) return;
    this.schedule(from, to, bytes);
    if (faults.duplicateRate > 0 && this.random.chance(faults.duplicateRate)) this.schedule(from, to, bytes);
  }

  private schedule(from: number, to: number, bytes: Uint8Array): void {
    const faults = this.faults;
    const jitter = faults.latencyJitterMs > 0 ? this.random.intBelow(faults.latencyJitterMs) : 0;
    this.queue.schedule(faults.latencyMinMs + jitter, () => {
      if (!this.isBlocked(from, to)) this.deliver(to, bytes);
    });
  }

  isBlocked(from: number, to: number): boolean {
    return this.blocked.size > 0 && this.blocked.has(linkKey(from, to));
  }

  /** Blocks messages from `from` to `to` (one direction only). */
  block(from: number, to: number): void {
    assert(from !== to, "cannot block a node from itself");
    this.blocked.add(linkKey(from, to));
  }

  /** Splits the nodes into groups that cannot talk across. */
  partition(groups: readonly (readonly number[])[]): void {
    for (const a of groups) {
      for (const b of groups) {
        if (a === b) continue;
        for (const x of a) for (const y of b) this.block(x, y);
      }
    }
  }

  heal(): void {
    this.blocked.clear();
  }

  blockedLinks(): number {
    return this.blocked.size;
  }
}

function linkKey(from: number, to: number): number {
  return from * 65536 + to;
}
