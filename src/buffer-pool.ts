// Memory for large buffers used again from one use to the next: a node's frames (a batch of 10,000
// 100-byte records is a megabyte of them) and a client's encoded batch requests. Such a buffer lives
// outside the JavaScript heap; allocated afresh for each batch, that memory drives the collector into
// a full collection every few batches, for "external memory pressure", and each new megabyte is
// faulted in page by page. The user of a buffer gives it back once nothing can read or write it any
// more; one never given back is left to the collector.
//
// Only buffers of POOLED_BYTES_MIN or more are pooled: a smaller one (a single record's frame, a
// unary request) is ordinary memory, cheap to allocate, which give() takes back without keeping.
// Kept: at most BUFFERS_KEPT buffers, the largest given back, each at most BUFFER_BYTES_KEPT; larger
// buffers are memory of their own each time.
import assert from "node:assert/strict";

const BUFFERS_KEPT = 4;
const BUFFER_BYTES_KEPT = 4 << 20;
/** The smallest buffer pooled, and the smallest capacity: capacities are powers of two from it, so that batches of varying size fit a kept buffer. */
const POOLED_BYTES_MIN = 64 << 10;

export class BufferPool {
  private readonly free: ArrayBuffer[] = [];
  /** The memory handed out and not yet given back: only it may come back, and only once. */
  private readonly lent = new WeakSet<ArrayBuffer>();

  /** A buffer of exactly `bytes`, over memory of its own (kept memory when some fits). */
  take = (bytes: number): Buffer => {
    if (bytes < POOLED_BYTES_MIN) return Buffer.allocUnsafe(bytes);
    // The smallest that fits, so that a small batch leaves a large buffer to a large one.
    let at = -1;
    for (let i = 0; i < this.free.length; i++) {
      const size = this.free[i]!.byteLength;
      if (size >= bytes && (at < 0 || size < this.free[at]!.byteLength)) at = i;
    }
    const memory = at >= 0 ? this.free.splice(at, 1)[0]! : new ArrayBuffer(capacityFor(bytes));
    this.lent.add(memory);
    return Buffer.from(memory, 0, bytes);
  };

  /** Gives back a buffer from take() that nothing reads or writes any more. */
  give(buffer: Buffer): void {
    if (buffer.length < POOLED_BYTES_MIN) return;
    const memory = buffer.buffer;
    assert.ok(memory instanceof ArrayBuffer && buffer.byteOffset === 0 && this.lent.has(memory), "a buffer from take(), given back once");
    this.lent.delete(memory);
    if (memory.byteLength > BUFFER_BYTES_KEPT) return;
    if (this.free.length < BUFFERS_KEPT) {
      this.free.push(memory);
      return;
    }
    // Full: keep the larger, so that small batches between large ones do not crowd them out.
    let smallest = 0;
    for (let i = 1; i < this.free.length; i++) if (this.free[i]!.byteLength < this.free[smallest]!.byteLength) smallest = i;
    if (this.free[smallest]!.byteLength < memory.byteLength) this.free[smallest] = memory;
  }
}

function capacityFor(bytes: number): number {
  if (bytes > BUFFER_BYTES_KEPT) return bytes;
  let capacity = POOLED_BYTES_MIN;
  while (capacity < bytes) capacity *= 2;
  return capacity;
}
