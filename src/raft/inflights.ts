import { assert } from "./assert.ts";

/**
 * The append messages in flight to one follower, as (last index, bytes) pairs in send order, bounded in
 * count and in bytes. A message is freed when the follower acknowledges an index at or beyond its last.
 */
export class Inflights {
  private readonly lastIndexes: number[] = [];
  private readonly sizes: number[] = [];
  private head = 0;
  private bytes = 0;

  constructor(
    readonly messagesMax: number,
    readonly bytesMax: number,
  ) {
    assert(messagesMax > 0, `messagesMax must be positive, got ${messagesMax}`);
    assert(bytesMax > 0, `bytesMax must be positive, got ${bytesMax}`);
  }

  count(): number {
    return this.lastIndexes.length - this.head;
  }

  bytesInFlight(): number {
    return this.bytes;
  }

  /** Whether no further message may be sent until some are acknowledged. */
  full(): boolean {
    return this.count() >= this.messagesMax || this.bytes >= this.bytesMax;
  }

  /** Records a message ending at `lastIndex`; indexes must increase. */
  add(lastIndex: number, bytes: number): void {
    assert(!this.full(), "inflights: add while full");
    const count = this.count();
    if (count > 0) {
      const previous = this.lastIndexes[this.lastIndexes.length - 1] as number;
      assert(lastIndex > previous, `inflights: ${lastIndex} not after ${previous}`);
    }
    this.lastIndexes.push(lastIndex);
    this.sizes.push(bytes);
    this.bytes += bytes;
  }

  /** Frees every message whose last index is <= `index`. */
  freeLE(index: number): void {
    while (this.head < this.lastIndexes.length && (this.lastIndexes[this.head] as number) <= index) {
      this.bytes -= this.sizes[this.head] as number;
      this.head++;
    }
    if (this.head === this.lastIndexes.length) {
      this.reset();
    } else if (this.head > 1024) {
      this.lastIndexes.splice(0, this.head);
      this.sizes.splice(0, this.head);
      this.head = 0;
    }
    assert(this.bytes >= 0, "inflights: negative bytes");
  }

  /** Frees the oldest message in flight (used when it was probably lost). */
  freeFirst(): void {
    assert(this.count() > 0, "inflights: freeFirst while empty");
    this.freeLE(this.lastIndexes[this.head] as number);
  }

  reset(): void {
    this.lastIndexes.length = 0;
    this.sizes.length = 0;
    this.head = 0;
    this.bytes = 0;
  }
}
