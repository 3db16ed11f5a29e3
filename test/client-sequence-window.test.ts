// The exactly-once client's call numbers stay within a span of the oldest unsettled call: a new call
// waits while it would be too far ahead, and goes on once the old one settles.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SequenceWindow } from "../src/client/sequence-window.ts";

test("a number span or more past the oldest unsettled one waits until that one settles", async () => {
  const window = new SequenceWindow(3n);
  const first = await window.take();
  assert.deepEqual([first, await window.take(), await window.take()], [0n, 1n, 2n]);
  window.settle(1n);
  window.settle(2n);
  let fourth: bigint | undefined;
  const waiting = window.take().then((sequence) => (fourth = sequence));
  await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(fourth, undefined, "3 is 3 past the unsettled 0");
  window.settle(first);
  assert.equal(await waiting, 3n);
  assert.equal(await window.take(), 4n);
});
