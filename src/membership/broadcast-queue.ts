// Updates waiting to be piggybacked, as in memberlist's TransmitLimitedQueue: one pending update per
// member (a newer one about the same member replaces it), the least-sent go first, and each is sent a
// bounded number of times (λ·log n) before it is dropped. Bounded: beyond `itemsMax` the most-sent
// update is dropped.
import assert from "node:assert/strict";
import { encodedUpdateBytes } from "./gossip-codec.ts";
import type { Update } from "./gossip-message.ts";

interface Pending {
  readonly update: Update;
  readonly bytes: number;
  /** Enqueue order: among equally sent updates the newest goes first. */
  readonly order: number;
  transmits: number;
}

export class BroadcastQueue {
  private readonly pending = new Map<string, Pending>();
  private order = 0;
  dropped = 0;

  constructor(private readonly itemsMax: number) {
    assert(itemsMax >= 1, "itemsMax must be positive");
  }

  size(): number {
    return this.pending.size;
  }

  enqueue(update: Update): void {
    this.pending.set(update.name, { update, bytes: encodedUpdateBytes(update), order: this.order++, transmits: 0 });
    if (this.pending.size <= this.itemsMax) return;
    let worst: Pending | undefined;
    for (const p of this.pending.values()) if (worst === undefined || before(worst, p)) worst = p;
    this.pending.delete((worst as Pending).update.name);
    this.dropped++;
  }

  /**
   * Up to `countMax` updates totalling at most `bytesAvailable` bytes, least sent first; each counts as
   * sent once, and one sent `transmitLimit` times leaves the queue. Updates about `recipient` itself
   * are not sent to it: it knows better, and the transmission would be wasted.
   */
  take(bytesAvailable: number, countMax: number, transmitLimit: number, recipient: string | undefined): Update[] {
    assert(transmitLimit >= 1, "transmitLimit must be positive");
    if (this.pending.size === 0) return [];
    const ordered = [...this.pending.values()].sort((a, b) => (before(a, b) ? -1 : 1));
    const taken: Update[] = [];
    let left = bytesAvailable;
    for (const p of ordered) {
      if (taken.length === countMax) break;
      if (p.bytes > left || p.update.name === recipient) continue;
      left -= p.bytes;
      taken.push(p.update);
      p.transmits++;
      if (p.transmits >= transmitLimit) this.pending.delete(p.update.name);
    }
    return taken;
  }
}

/** True when `a` should be sent before `b`: fewer transmits, then newer. */
function before(a: Pending, b: Pending): boolean {
  return a.transmits < b.transmits || (a.transmits === b.transmits && a.order > b.order);
}
