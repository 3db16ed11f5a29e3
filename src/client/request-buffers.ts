// Memory for encoded batch requests, used again from one call to the next. A ProduceBatch of 10,000
// 100-byte records is a megabyte outside the JavaScript heap; allocated afresh for every call, that
// memory pushed the collector into a full collection every few batches (about a third of the
// client's CPU under bench:server's batch load, the encoding itself a tenth). A buffer comes back
// here only once its call has been answered OK: grpc-js copies a message into its own frame before
// sending it, and the node answers only after the whole message has arrived, so nothing reads the
// buffer any more. A call that fails leaves its buffer to the collector, whatever grpc-js still does.
//
// Kept: at most BUFFERS_KEPT buffers, each at most BUFFER_BYTES_KEPT; larger requests take memory of
// their own each time.
import assert from "node:assert/strict";

const BUFFERS_KEPT = 4;
const BUFFER_BYTES_KEPT = 4 << 20;
/** Capacities are powers of two from this, so that batches of varying size fit a kept buffer. */
const BUFFER_BYTES_MIN = 4 << 10;

export class RequestBuffers {
  private readonly free: ArrayBuffer[] = [];

  /** A buffer of exactly `bytes`, over memory of its own (kept memory when some fits). */
  take = (bytes: number): Buffer => {
    // The smallest that fits, so that a small request leaves a large buffer to a large one.
    let at = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i]!.byteLength;
      if (size >= bytes && (at < 0 || size < this.free[at]!.byteLength)) at = i;
    }
    const memory = at >= 0 ? this.free.splice(at, 1)[0]! : new ArrayBuffer(capacityFor(bytes));
    return Buffer.from(memory, 0, bytes);
  };

  /** Hands back a buffer from take() whose call was answered OK; nothing may use it afterwards. */
  give(buffer: Buffer): void {
    const memory = buffer.buffer;
    assert.ok(memory instanceof ArrayBuffer && buffer.byteOffset === 0, "a buffer from take()");
    if (memory.byteLength > BUFFER_BYTES_KEPT || this.free.length >= BUFFERS_KEPT || this.free.includes(memory)) return;
    this.free.push(memory);
  }
}

function capacityFor(bytes: number): number {
  if (bytes > BUFFER_BYTES_KEPT) return bytes;
  let capacity = BUFFER_BYTES_MIN;
  while (capacity < bytes) capacity *= 2;
  return capacity;
}
