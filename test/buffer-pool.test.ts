// The memory pool behind a node's frames and a client's batch requests (src/buffer-pool.ts): what it
// hands out again, what it keeps, and that only memory it lent, given back once, comes back.
import assert from "node:assert/strict";
import { test } from "node:test";
import { BufferPool } from "../src/buffer-pool.ts";

const KIB = 1024;

test("a buffer given back is taken again by one it fits; one in use, never given back, or too large, is not", () => {
  const buffers = new BufferPool();
  const first = buffers.take(100 * KIB);
  assert.equal(first.length, 100 * KIB);
  const second = buffers.take(100 * KIB);
  assert.notEqual(second.buffer, first.buffer, "a buffer in use is not handed out twice");
  buffers.give(first);
  const again = buffers.take(120 * KIB);
  assert.equal(again.length, 120 * KIB);
  assert.equal(again.buffer, first.buffer, "the memory given back holds the next buffer that fits");
  assert.notEqual(buffers.take(100 * KIB).buffer, first.buffer, "taken again, it is in use");
  const large = buffers.take(5 << 20);
  buffers.give(large);
  assert.notEqual(buffers.take(5 << 20).buffer, large.buffer, "a buffer over the kept size is not kept");
});

test("the smallest kept buffer that fits is taken, and a full pool keeps the largest given back", () => {
  const buffers = new BufferPool();
  const big = buffers.take(1 << 20);
  const small = buffers.take(64 * KIB);
  buffers.give(big);
  buffers.give(small);
  assert.equal(buffers.take(64 * KIB).buffer, small.buffer, "a small buffer leaves the large one");
  assert.equal(buffers.take(200 * KIB).buffer, big.buffer);
  const smalls = Array.from({ length: 4 }, () => buffers.take(64 * KIB));
  const larges = Array.from({ length: 2 }, () => buffers.take(1 << 20));
  for (const buffer of [...smalls, ...larges]) buffers.give(buffer);
  const reused = Array.from({ length: 6 }, () => buffers.take(64 * KIB).buffer);
  assert.equal(reused.filter((memory) => larges.some((buffer) => buffer.buffer === memory)).length, 2, "both large buffers were kept");
  assert.equal(new Set(reused.filter((memory) => [...smalls, ...larges].some((buffer) => buffer.buffer === memory))).size, 4, "at most four buffers are kept");
});

test("small buffers are ordinary memory, not pooled; only memory it lent comes back, and only once", () => {
  const buffers = new BufferPool();
  const tiny = buffers.take(100);
  assert.equal(tiny.length, 100);
  // Ordinary memory: giving it back keeps nothing, so it may even be given twice.
  buffers.give(tiny);
  buffers.give(tiny);
  const pooled = buffers.take(64 * KIB);
  assert.equal(pooled.buffer.byteLength, 64 * KIB, "the first pooled buffer is memory of its own, not the small one");
  const lent = buffers.take(64 * KIB);
  buffers.give(lent);
  assert.throws(() => buffers.give(lent), /given back once/);
  assert.throws(() => buffers.give(Buffer.alloc(64 * KIB)), /from take/);
});
