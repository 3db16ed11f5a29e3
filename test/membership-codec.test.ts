// The gossip codec: every message type round-trips, and hostile datagrams (random bytes, truncations,
// bit flips, oversize, bad strings) are reported as a reason, never thrown; the AEAD seal rejects a
// wrong key, a missing key and a tampered datagram.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { decodeGossip, encodeGossip, encodedBytes, ITEMS_PER_MESSAGE_MAX } from "../src/membership/gossip-codec.ts";
import { defaultGossipConfig } from "../src/membership/gossip-config.ts";
import type { GossipMessage, Update } from "../src/membership/gossip-message.ts";
import { GossipSeal, SEAL_OVERHEAD_BYTES } from "../src/membership/gossip-seal.ts";
import { SeededRandom } from "../src/raft/random.ts";
import { TestRandom } from "./support/test-random.ts";

const BYTES_MAX = defaultGossipConfig.messageBytesMax;
const updates: Update[] = [
  { kind: "alive", name: "loghouse-0", incarnation: 7, address: "loghouse-0.loghouse.svc:8400", role: "voter" },
  { kind: "alive", name: "n1", incarnation: 0xffff_ffff, address: "[::1]:8400", role: "" },
  { kind: "suspect", name: "n2", incarnation: 3, from: "n1" },
  { kind: "dead", name: "név-ü", incarnation: 1, from: "n1" },
  { kind: "left", name: "n4", incarnation: 9 },
];
const messages: GossipMessage[] = [
  { type: "ping", seq: 1, target: "n2", updates },
  { type: "ping-req", seq: 0xffff_ffff, target: "n2", address: "10.0.0.2:8400", updates: [] },
  { type: "ack", seq: 5, updates: updates.slice(2) },
  { type: "nack", seq: 6, updates: [] },
  { type: "gossip", updates },
  { type: "sync", replyWanted: true, members: [{ name: "n1", address: "10.0.0.1:8400", role: "learner", state: "suspect", incarnation: 2 }] },
  { type: "sync", replyWanted: false, members: [] },
];

test("every message type round-trips at its computed size", () => {
  for (const message of messages) {
    const bytes = encodeGossip(message, BYTES_MAX);
    assert.equal(bytes.length, encodedBytes(message));
    assert.deepEqual(decodeGossip(bytes, BYTES_MAX), { ok: true, message });
  }
});

test("malformed datagrams are reported, never thrown", (t) => {
  const random = new SeededRandom(TestRandom.forTest(t).seed);
  const valid = messages.map((m) => encodeGossip(m, BYTES_MAX));
  const reasons = new Map<string, number>();
  for (let i = 0; i < 20_000; i++) {
    const base = Buffer.from(random.pick(valid));
    let bytes: Buffer;
    if (i % 3 === 0) bytes = base.subarray(0, random.intBelow(base.length));
    else if (i % 3 === 1) {
      bytes = base;
      for (let flips = 1 + random.intBelow(3); flips > 0; flips--) bytes[random.intBelow(bytes.length)]! ^= 1 << random.intBelow(8);
    } else bytes = Buffer.from(Array.from({ length: random.intBelow(64) }, () => random.intBelow(256)));
    const result = decodeGossip(bytes, BYTES_MAX);
    if (!result.ok) reasons.set(result.reason, (reasons.get(result.reason) ?? 0) + 1);
  }
  for (const reason of ["truncated", "badVersion", "badTag", "badString"]) assert.ok((reasons.get(reason) ?? 0) > 0, `never saw ${reason}`);
  assert.deepEqual(decodeGossip(Buffer.alloc(BYTES_MAX + 1, 1), BYTES_MAX), { ok: false, reason: "tooLarge" });
  assert.deepEqual(decodeGossip(Buffer.concat([encodeGossip(messages[3]!, BYTES_MAX), Buffer.of(0)]), BYTES_MAX), { ok: false, reason: "trailingBytes" });
  const badUtf8 = encodeGossip({ type: "ping", seq: 1, target: "ab", updates: [] }, BYTES_MAX);
  badUtf8[7] = 0xff;
  assert.deepEqual(decodeGossip(badUtf8, BYTES_MAX), { ok: false, reason: "badString" });
});

test("a full message of updates fits one datagram", () => {
  const many: Update[] = Array.from({ length: ITEMS_PER_MESSAGE_MAX }, (_, i) => ({ kind: "left", name: `n${i}`, incarnation: i }));
  const message: GossipMessage = { type: "gossip", updates: many.slice(0, 130) };
  assert.ok(encodedBytes(message) <= BYTES_MAX);
  assert.ok(encodeGossip(message, BYTES_MAX).length + SEAL_OVERHEAD_BYTES <= 1400);
  assert.throws(() => encodeGossip({ type: "gossip", updates: many }, BYTES_MAX));
});

test("the seal opens only under the same key", () => {
  const key = randomBytes(32);
  const payload = encodeGossip(messages[0]!, BYTES_MAX);
  const sealed = new GossipSeal(key).seal(payload);
  assert.equal(sealed.length, payload.length + SEAL_OVERHEAD_BYTES);
  assert.deepEqual(new GossipSeal(key).open(sealed), payload);
  assert.equal(new GossipSeal(randomBytes(32)).open(sealed), undefined);
  assert.equal(new GossipSeal(undefined).open(sealed), undefined);
  assert.equal(new GossipSeal(key).open(new GossipSeal(undefined).seal(payload)), undefined);
  const tampered = Buffer.from(sealed);
  tampered[20]! ^= 1;
  assert.equal(new GossipSeal(key).open(tampered), undefined);
  assert.throws(() => new GossipSeal(randomBytes(16)), RangeError);
});
