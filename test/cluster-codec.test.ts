// The Raft message codec and the connection framing, by property: random messages round-trip exactly,
// every truncation and unknown tag is refused with a CodecError, and corrupt input never yields
// anything but a CodecError or a message that re-encodes to the same bytes.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { CodecError } from "../src/cluster/transport-errors.ts";
import { CONNECTION_MARKER, decodeHello, encodeHello, FrameReader, HELLO_BYTES, TRANSPORT_VERSION } from "../src/cluster/frame-reader.ts";
import { decodeMessage, encodedForwardMessageBytes, encodedMessageBytes, encodedRepairMessageBytes, encodeForwardMessage, encodeMessage, encodeRepairMessage, MESSAGE_HEADER_BYTES } from "../src/cluster/message-codec.ts";
import { isForwardMessage, isRepairMessage, isSideMessage, type ForwardMessage, type PeerMessage, type RepairMessage } from "../src/cluster/peer-message.ts";
import { EntryType, message, MessageType, SeededRandom, type Entry, type Message } from "../src/raft/index.ts";

const edgeNaturals = [0, 1, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, Number.MAX_SAFE_INTEGER];

function randomNatural(random: SeededRandom): number {
  if (random.chance(0.3)) return random.pick(edgeNaturals);
  const high = random.chance(0.5) ? 0 : random.nextUint32() & 0x1f_ffff;
  return high * 2 ** 32 + random.nextUint32();
}

function randomIds(random: SeededRandom): number[] {
  return Array.from({ length: random.intBelow(5) }, () => 1 + random.intBelow(1000));
}

/** Entry `index`, often in the same run (term, type, timestamp) as `previous`, so that runs form. */
function randomEntry(random: SeededRandom, index: number, previous: Entry | undefined): Entry {
  const data = new Uint8Array(random.intBelow(40));
  for (let i = 0; i < data.length; i++) data[i] = random.intBelow(256);
  if (previous !== undefined && random.chance(0.6)) return { index, term: previous.term, type: previous.type, data, timestampMs: previous.timestampMs };
  const timestampMs = random.chance(0.5) ? 1 + random.intBelow(2 ** 32) * 1000 : undefined;
  return { index, term: randomNatural(random), type: random.pick(Object.values(EntryType)), data, timestampMs };
}

function randomEntries(random: SeededRandom, previousIndex: number, count: number): Entry[] {
  const entries: Entry[] = [];
  for (let i = 1; i <= count; i++) entries.push(randomEntry(random, previousIndex + i, entries[entries.length - 1]));
  return entries;
}

function randomMessage(random: SeededRandom): Message {
  const entryCount = random.chance(0.3) ? 0 : random.intBelow(12);
  const index = Math.min(randomNatural(random), Number.MAX_SAFE_INTEGER - entryCount);
  const snapshot = random.chance(0.3)
    ? { index: randomNatural(random), term: randomNatural(random), membership: { voters: randomIds(random), learners: randomIds(random) } }
    : null;
  return message({
    type: random.pick(Object.values(MessageType)),
    from: 1 + random.intBelow(7),
    to: 1 + random.intBelow(7),
    term: randomNatural(random),
    logTerm: randomNatural(random),
    index,
    commit: randomNatural(random),
    rejectHint: randomNatural(random),
    reject: random.chance(0.5),
    transfer: random.chance(0.5),
    snapshot,
    entries: randomEntries(random, index, entryCount),
  });
}

/** Decodes bytes that must hold a Raft message. */
function decodeRaft(bytes: Uint8Array): Message {
  const decoded = decodeMessage(bytes);
  assert.ok(!isSideMessage(decoded), "a Raft message");
  return decoded;
}

function encodePeerMessage(m: PeerMessage): Buffer {
  if (isRepairMessage(m)) return encodeRepairMessage(m);
  return isForwardMessage(m) ? encodeForwardMessage(m) : encodeMessage(m);
}

function randomBytes(random: SeededRandom, lengthBelow: number): Uint8Array {
  const bytes = new Uint8Array(random.intBelow(lengthBelow));
  for (let i = 0; i < bytes.length; i++) bytes[i] = random.intBelow(256);
  return bytes;
}

function randomForwardMessage(random: SeededRandom): ForwardMessage {
  const base = { from: 1 + random.intBelow(7), to: 1 + random.intBelow(7), id: randomNatural(random) };
  const kind = random.intBelow(3);
  if (kind === 0) return { type: "forward-cancel", ...base };
  if (kind === 1) {
    const values = Array.from({ length: 1 + random.intBelow(5) }, () => randomBytes(random, 40));
    const traceparent = random.chance(0.5) ? "" : `00-${"ab".repeat(16)}-${"cd".repeat(8)}-01`;
    return { type: "forward-request", ...base, timeoutMs: random.nextUint32(), traceparent, values };
  }
  const failed = random.chance(0.5);
  return {
    type: "forward-response",
    ...base,
    firstOffset: randomNatural(random),
    leaderId: failed ? randomNatural(random) : 0,
    rpcCode: failed ? 1 + random.intBelow(16) : 0,
    code: failed ? "NOT_LEADER" : "",
    message: failed ? "not the leader: ask nœud 3" : "",
  };
}

function randomRepairMessage(random: SeededRandom): RepairMessage {
  const from = 1 + random.intBelow(7);
  const to = 1 + random.intBelow(7);
  const low = Math.min(randomNatural(random), Number.MAX_SAFE_INTEGER - 1);
  if (random.chance(0.5)) return { type: "repair-request", from, to, low, high: low + 1 + random.intBelow(Math.min(1000, Number.MAX_SAFE_INTEGER - low)) };
  const frames = new Uint8Array(random.intBelow(64));
  for (let i = 0; i < frames.length; i++) frames[i] = random.intBelow(256);
  return { type: "repair-response", from, to, low, frames };
}

function assertCodecError(bytes: Uint8Array, reason?: string): void {
  assert.throws(
    () => decodeMessage(bytes),
    (error: unknown) => error instanceof CodecError && (reason === undefined || error.reason === reason),
  );
}

/** A heartbeat's encoding, to be patched by hand: tag at 0, u64 fields from 1, flags at 57, count at 58. */
function heartbeatBytes(): Buffer {
  return encodeMessage(message({ type: MessageType.Heartbeat, from: 1, to: 2, term: 3, commit: 4 }));
}

describe("message codec", () => {
  test("random messages round-trip exactly and encode to their computed size", () => {
    const random = new SeededRandom(1);
    for (let i = 0; i < 2000; i++) {
      const original = randomMessage(random);
      const bytes = encodeMessage(original);
      assert.equal(bytes.length, encodedMessageBytes(original));
      assert.deepStrictEqual(decodeMessage(bytes), original);
    }
  });

  test("every truncation of a valid encoding throws a CodecError", () => {
    const random = new SeededRandom(2);
    for (let i = 0; i < 200; i++) {
      const bytes = encodeMessage(randomMessage(random));
      for (let length = 0; length < bytes.length; length++) assertCodecError(bytes.subarray(0, length), "truncated");
    }
  });

  test("bytes after the message throw", () => {
    const bytes = heartbeatBytes();
    assertCodecError(Buffer.concat([bytes, Buffer.of(0)]), "trailing-bytes");
  });

  test("an unknown message type tag throws", () => {
    for (const tag of [0, 16, 127, 255]) {
      const bytes = heartbeatBytes();
      bytes[0] = tag;
      assertCodecError(bytes, "unknown-message-type");
    }
  });

  test("repair and forward messages round-trip exactly, and every truncation or trailing byte throws", () => {
    const random = new SeededRandom(4);
    for (let i = 0; i < 1000; i++) {
      const original = random.chance(0.5) ? randomRepairMessage(random) : randomForwardMessage(random);
      const bytes = encodePeerMessage(original);
      assert.equal(bytes.length, isRepairMessage(original) ? encodedRepairMessageBytes(original) : encodedForwardMessageBytes(original));
      assert.deepStrictEqual(decodeMessage(bytes), original);
      for (let length = 0; length < bytes.length; length++) assertCodecError(bytes.subarray(0, length), "truncated");
      assertCodecError(Buffer.concat([bytes, Buffer.of(0)]), "trailing-bytes");
    }
  });

  test("a forward request without records, or an error message that is not UTF-8, throws", () => {
    const request = encodeForwardMessage({ type: "forward-request", from: 1, to: 2, id: 3, timeoutMs: 10, traceparent: "", values: [Buffer.of(7)] });
    const empty = Buffer.concat([request.subarray(0, 1 + 3 * 8 + 4 + 2), Buffer.alloc(4)]);
    assertCodecError(empty, "bad-forward");
    const response = encodeForwardMessage({ type: "forward-response", from: 1, to: 2, id: 3, firstOffset: 0, leaderId: 0, rpcCode: 14, code: "X", message: "é" });
    response[response.length - 1] = 0xff;
    assertCodecError(response, "bad-forward");
  });

  test("a repair request for an empty range throws; repair frames decode as views of the input", () => {
    const request = encodeRepairMessage({ type: "repair-request", from: 1, to: 2, low: 5, high: 6 });
    request.writeUInt32LE(5, 1 + 3 * 8); // high = low
    assertCodecError(request, "bad-range");
    const response = encodeRepairMessage({ type: "repair-response", from: 1, to: 2, low: 5, frames: Buffer.from("frames") });
    const decoded = decodeMessage(response);
    assert.ok(decoded.type === "repair-response");
    assert.equal(decoded.frames.buffer, response.buffer, "no copy");
    response.writeUInt32LE(7, 1 + 3 * 8); // a frames length past the end
    assertCodecError(response, "truncated");
  });

  test("unknown flag bits and entry types throw", () => {
    const flagged = heartbeatBytes();
    flagged[57] = 0x08;
    assertCodecError(flagged, "unknown-flags");
    const entry: Entry = { index: 5, term: 1, type: EntryType.Normal, data: Uint8Array.of(1, 2) };
    const withEntry = encodeMessage(message({ type: MessageType.Append, from: 1, to: 2, term: 1, index: 4, entries: [entry] }));
    withEntry.writeUInt32LE(9, MESSAGE_HEADER_BYTES + 4 + 8); // the run's type
    assertCodecError(withEntry, "unknown-entry-type");
  });

  test("a u64 beyond 2^53 - 1 throws instead of losing precision", () => {
    const bytes = heartbeatBytes();
    bytes.writeUInt32LE(0x20_0000, 1 + 2 * 8 + 4); // high half of term
    assertCodecError(bytes, "unsafe-integer");
  });

  test("a huge entry or id count throws before anything is allocated", () => {
    const bytes = heartbeatBytes();
    bytes.writeUInt32LE(0xffff_ffff, 58);
    assertCodecError(bytes, "truncated");
    const snapshot = { index: 1, term: 1, membership: { voters: [1], learners: [] } };
    const withSnapshot = encodeMessage(message({ type: MessageType.Snapshot, from: 1, to: 2, term: 1, snapshot }));
    withSnapshot.writeUInt32LE(0xffff_ffff, MESSAGE_HEADER_BYTES - 4 + 16);
    assertCodecError(withSnapshot, "truncated");
  });

  test("corrupt bytes yield a CodecError or a message that re-encodes to the same bytes", () => {
    const random = new SeededRandom(3);
    let accepted = 0;
    for (let i = 0; i < 3000; i++) {
      const bytes = encodeMessage(randomMessage(random));
      for (let flips = 1 + random.intBelow(3); flips > 0; flips--) bytes[random.intBelow(bytes.length)] = random.intBelow(256);
      let decoded: PeerMessage;
      try {
        decoded = decodeMessage(bytes);
      } catch (error) {
        assert.ok(error instanceof CodecError, `not a CodecError: ${String(error)}`);
        continue;
      }
      accepted += 1;
      assert.deepStrictEqual(encodePeerMessage(decoded), bytes);
    }
    assert.ok(accepted > 0, "some corruptions hit data bytes and are accepted");
  });

  test("entry data decode as views of the input, also from an offset within a larger buffer", () => {
    const entries: Entry[] = [1, 2, 3].map((index) => ({ index, term: 1, type: EntryType.Normal, data: Buffer.from(`value-${index}`), timestampMs: undefined }));
    const encoded = encodeMessage(message({ type: MessageType.Append, from: 1, to: 2, term: 1, entries }));
    const outer = new Uint8Array(encoded.length + 10);
    outer.set(encoded, 7);
    const decoded = decodeRaft(outer.subarray(7, 7 + encoded.length));
    for (const [i, entry] of decoded.entries.entries()) {
      assert.equal(entry.data.buffer, outer.buffer, "no copy");
      assert.equal(Buffer.from(entry.data).toString(), `value-${i + 1}`);
    }
  });

  test("entry timestamps round-trip when present and stay absent otherwise", () => {
    const data = new Uint8Array(0);
    const timed = { index: 1, term: 1, type: EntryType.Normal, data, timestampMs: 1_700_000_000_123 };
    const untimed = { index: 2, term: 1, type: EntryType.NoOp, data };
    const decoded = decodeRaft(encodeMessage(message({ type: MessageType.Append, from: 1, to: 2, term: 1, entries: [timed, untimed] })));
    assert.deepStrictEqual(decoded.entries, [timed, { ...untimed, timestampMs: undefined }]);
  });

  test("entries sharing term, type and timestamp travel as one run: 4 bytes per entry beyond its data", () => {
    const run = (count: number, term: number): Entry[] =>
      Array.from({ length: count }, (_, i) => ({ index: 0, term, type: EntryType.Normal, data: new Uint8Array(100), timestampMs: 7 }));
    const entries = [...run(1000, 3), ...run(1000, 4)].map((entry, i) => ({ ...entry, index: 11 + i }));
    const append = message({ type: MessageType.Append, from: 1, to: 2, term: 4, index: 10, entries });
    assert.equal(encodedMessageBytes(append), MESSAGE_HEADER_BYTES + 2 * 24 + 2000 * 104);
    assert.deepStrictEqual(decodeRaft(encodeMessage(append)).entries, entries);
  });

  test("a run of length zero, a run longer than the entries left, or two runs that should be one throw", () => {
    const entries: Entry[] = [1, 2].map((index) => ({ index, term: index, type: EntryType.Normal, data: Uint8Array.of(index), timestampMs: undefined }));
    const bytes = encodeMessage(message({ type: MessageType.Append, from: 1, to: 2, term: 2, index: 0, entries }));
    const secondRun = MESSAGE_HEADER_BYTES + 24 + 4 + 1;
    for (const [at, value] of [[MESSAGE_HEADER_BYTES, 0], [MESSAGE_HEADER_BYTES, 3], [secondRun + 4, 1]] as const) {
      const patched = Buffer.from(bytes);
      patched.writeUInt32LE(value, at);
      assertCodecError(patched, "bad-run");
    }
  });

  test("entries that do not follow the message's index one by one are a programmer error", () => {
    const entry: Entry = { index: 5, term: 1, type: EntryType.Normal, data: Uint8Array.of(1) };
    assert.throws(() => encodeMessage(message({ type: MessageType.Append, from: 1, to: 2, term: 1, index: 3, entries: [entry] })), assert.AssertionError);
  });

  test("encoding a field that is not a non-negative safe integer is a programmer error", () => {
    for (const term of [-1, 1.5, 2 ** 53, Number.NaN]) {
      assert.throws(() => encodeMessage(message({ type: MessageType.Heartbeat, from: 1, to: 2, term })), assert.AssertionError);
    }
  });
});

describe("connection framing", () => {
  test("the hello round-trips and a wrong marker, version or node id is refused", () => {
    for (const id of [1, 2 ** 32, Number.MAX_SAFE_INTEGER]) assert.equal(decodeHello(encodeHello(id)), id);
    const cases: [number, number, string][] = [
      [0, 0x47, "bad-connection-marker"],
      [1, 1, "unsupported-version"],
    ];
    for (const [at, value, reason] of cases) {
      const hello = encodeHello(7);
      hello[at] = value;
      assert.throws(() => decodeHello(hello), (e: unknown) => e instanceof CodecError && e.reason === reason);
    }
    const anonymous = Buffer.alloc(HELLO_BYTES, 0);
    anonymous[0] = CONNECTION_MARKER;
    anonymous[1] = TRANSPORT_VERSION;
    assert.throws(() => decodeHello(anonymous), (e: unknown) => e instanceof CodecError && e.reason === "bad-sender");
  });

  test("frames are reassembled exactly from any chunking of the stream", () => {
    const random = new SeededRandom(4);
    const payloads = Array.from({ length: 50 }, () => Buffer.alloc(random.intBelow(300), random.intBelow(256)));
    const header = (length: number): Buffer => {
      const bytes = Buffer.alloc(4);
      bytes.writeUInt32LE(length);
      return bytes;
    };
    const stream = Buffer.concat(payloads.flatMap((payload) => [header(payload.length), payload]));
    for (let round = 0; round < 50; round++) {
      const reader = new FrameReader(1024);
      const frames: Buffer[] = [];
      for (let at = 0; at < stream.length; ) {
        const length = 1 + random.intBelow(round % 2 === 0 ? 8 : 700);
        reader.push(stream.subarray(at, at + length));
        at += length;
        for (let frame = reader.nextFrame(); frame !== null; frame = reader.nextFrame()) frames.push(frame);
      }
      assert.deepStrictEqual(frames, payloads);
      assert.equal(reader.buffered, 0);
    }
  });

  test("an oversized frame is refused as soon as its header is read", () => {
    const reader = new FrameReader(100);
    reader.push(Buffer.of(101, 0));
    assert.equal(reader.nextFrame(), null, "header incomplete");
    reader.push(Buffer.of(0, 0));
    assert.throws(() => reader.nextFrame(), (e: unknown) => e instanceof CodecError && e.reason === "frame-too-large");
  });
});
