// The hand-written record codecs (src/wire) against protobuf-es, the reference: the same bytes out
// of the encoders, the same objects out of the decoders, for edge values and random batches; and
// malformed bytes are refused, never misread.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import { test } from "node:test";
import {
  ConsumeBatchResponseSchema,
  ConsumeBatchStreamResponseSchema,
  ConsumeResponseSchema,
  ProduceBatchRequestSchema,
  ProduceRequestSchema,
  ProduceResponseSchema,
} from "../src/gen/log/v1/log_pb.ts";
import {
  decodeConsumeBatchResponse,
  decodeConsumeBatchStreamResponse,
  decodeConsumeResponse,
  decodeProduceBatchRequest,
  decodeProduceRequest,
  encodeConsumeResponse,
  encodeProduceBatchRequest,
  encodeProduceResponse,
  encodeRecordBatch,
  WireFormatError,
} from "../src/wire/record-codec.ts";
import { valueViews } from "../src/storage/gathered-values.ts";

const U64_MAX = 2n ** 64n - 1n;
const edgeU64 = [0n, 1n, 127n, 128n, 16_383n, 16_384n, 2n ** 28n - 1n, 2n ** 28n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, U64_MAX];
const edgeU32 = [0, 1, 127, 128, 2 ** 28 - 1, 2 ** 28, 2 ** 31, 2 ** 32 - 1];

function randomRecord() {
  const pick = <T>(values: readonly T[]): T => values[randomInt(values.length)]!;
  return {
    value: randomInt(4) === 0 ? new Uint8Array(0) : randomBytes(randomInt(1, 300)),
    offset: pick(edgeU64),
    term: pick(edgeU64),
    type: pick(edgeU32),
    timestampMs: pick(edgeU64),
  };
}

test("encodeConsumeResponse writes exactly protobuf-es's bytes, after the requested prefix", () => {
  for (let i = 0; i < 500; i++) {
    const message = i === 0 ? {} : { record: randomRecord() };
    const expected = toBinary(ConsumeResponseSchema, create(ConsumeResponseSchema, message));
    assert.deepEqual(new Uint8Array(encodeConsumeResponse(message)), expected);
    assert.deepEqual(new Uint8Array(encodeConsumeResponse(message, 5).subarray(5)), expected);
  }
});

test("encodeRecordBatch writes exactly protobuf-es's bytes for both batch answers", () => {
  for (let i = 0; i < 200; i++) {
    const message = { records: Array.from({ length: randomInt(0, 20) }, randomRecord), nextOffset: edgeU64[i % edgeU64.length], endOffset: edgeU64[(i * 7) % edgeU64.length] };
    assert.deepEqual(new Uint8Array(encodeRecordBatch(message)), toBinary(ConsumeBatchResponseSchema, create(ConsumeBatchResponseSchema, message)));
    assert.deepEqual(new Uint8Array(encodeRecordBatch(message)), toBinary(ConsumeBatchStreamResponseSchema, create(ConsumeBatchStreamResponseSchema, message)));
  }
});

/** An idempotent producer's batch id, edge sequences and an empty id among them. */
function randomProducer(i: number): { producerId: Uint8Array; sequence: bigint } {
  return { producerId: i % 5 === 0 ? new Uint8Array(0) : randomBytes(randomInt(1, 65)), sequence: edgeU64[i % edgeU64.length]! };
}

test("the ProduceBatchRequest codec matches protobuf-es both ways, the values decoded gathered where they lie", () => {
  for (let i = 0; i < 200; i++) {
    // Now and then more values than a gathered batch makes room for at first.
    const count = i % 40 === 0 ? randomInt(250, 1100) : randomInt(0, 30);
    const values = Array.from({ length: count }, () => (randomInt(5) === 0 ? new Uint8Array(0) : randomBytes(randomInt(1, 400))));
    const message = i % 3 === 0 ? { values } : { values, producer: randomProducer(i) };
    const expected = toBinary(ProduceBatchRequestSchema, create(ProduceBatchRequestSchema, message));
    assert.deepEqual(new Uint8Array(encodeProduceBatchRequest(message)), expected);
    const decoded = decodeProduceBatchRequest(expected);
    assert.equal(decoded.values.bytes.buffer, expected.buffer, "the values are not copied");
    assert.deepEqual({ ...decoded, values: valueViews(decoded.values) }, fromBinary(ProduceBatchRequestSchema, expected));
  }
});

test("the one-record Produce codecs match protobuf-es", () => {
  for (const offset of edgeU64) {
    const expected = toBinary(ProduceResponseSchema, create(ProduceResponseSchema, { offset }));
    assert.deepEqual(new Uint8Array(encodeProduceResponse({ offset })), expected);
    assert.deepEqual(new Uint8Array(encodeProduceResponse({ offset }, 5).subarray(5)), expected);
  }
  for (let i = 0; i < 200; i++) {
    const bytes = toBinary(ProduceRequestSchema, create(ProduceRequestSchema, i === 0 ? {} : i % 2 === 0 ? { record: randomRecord() } : { record: randomRecord(), producer: randomProducer(i) }));
    assert.deepEqual(decodeProduceRequest(bytes), fromBinary(ProduceRequestSchema, bytes));
  }
});

test("the decoders read what protobuf-es reads, including over-long varints and unknown fields", () => {
  for (let i = 0; i < 200; i++) {
    const batch = create(ConsumeBatchResponseSchema, { records: Array.from({ length: randomInt(0, 20) }, randomRecord), nextOffset: edgeU64[i % edgeU64.length] });
    const bytes = toBinary(ConsumeBatchResponseSchema, batch);
    assert.deepEqual(decodeConsumeBatchResponse(bytes), fromBinary(ConsumeBatchResponseSchema, bytes));
    assert.deepEqual(decodeConsumeBatchStreamResponse(bytes), fromBinary(ConsumeBatchStreamResponseSchema, bytes));
    const single = toBinary(ConsumeResponseSchema, create(ConsumeResponseSchema, { record: randomRecord() }));
    assert.deepEqual(decodeConsumeResponse(single), fromBinary(ConsumeResponseSchema, single));
  }
  // type = 2^32 + 5 written as a 10-byte varint truncates to 5 (protobuf's uint32 rule); an unknown
  // field 9 (fixed64) is skipped.
  const record = Buffer.from([0x20, 0x85, 0x80, 0x80, 0x80, 0x10, 0x49, 1, 2, 3, 4, 5, 6, 7, 8]);
  const response = Buffer.concat([Buffer.from([0x0a, record.length]), record]);
  assert.equal(decodeConsumeResponse(response).record!.type, fromBinary(ConsumeResponseSchema, response).record!.type);
  assert.equal(decodeConsumeResponse(response).record!.type, 5);
});

test("a record or producer sent in parts is the parts merged, as protobuf-es reads it", () => {
  // A record's value in one part and its time in another (a client may build the message so): the
  // fast decoder kept only the last part, and the value was stored empty.
  for (let i = 0; i < 100; i++) {
    const whole = create(ProduceRequestSchema, { record: randomRecord(), producer: randomProducer(i) });
    const parts = [
      toBinary(ProduceRequestSchema, create(ProduceRequestSchema, { record: { value: whole.record!.value, offset: whole.record!.offset } })),
      toBinary(ProduceRequestSchema, create(ProduceRequestSchema, { producer: { producerId: whole.producer!.producerId } })),
      toBinary(ProduceRequestSchema, create(ProduceRequestSchema, { record: { term: whole.record!.term, type: whole.record!.type, timestampMs: whole.record!.timestampMs } })),
      toBinary(ProduceRequestSchema, create(ProduceRequestSchema, { producer: { sequence: whole.producer!.sequence } })),
    ];
    const bytes = new Uint8Array(Buffer.concat(parts));
    assert.deepEqual(decodeProduceRequest(bytes), fromBinary(ProduceRequestSchema, bytes));
    assert.deepEqual(decodeProduceRequest(bytes), fromBinary(ProduceRequestSchema, toBinary(ProduceRequestSchema, whole)), "the parts make the whole");
    const response = new Uint8Array(Buffer.concat([parts[0]!, parts[2]!]));
    assert.deepEqual(decodeConsumeResponse(response), fromBinary(ConsumeResponseSchema, response));
  }
});

test("malformed bytes are refused with WireFormatError", () => {
  const cases = [
    Buffer.from([0x0a]), // length missing
    Buffer.from([0x0a, 0x05, 0x01]), // record runs past the message
    Buffer.from([0x0a, 0x02, 0x10]), // varint cut short inside the record
    Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // varint over 10 bytes
    Buffer.from([0x0b]), // wire type 3 (groups) is not supported
  ];
  for (const bytes of cases) {
    assert.throws(() => decodeConsumeBatchResponse(bytes), WireFormatError, `bytes ${bytes.toString("hex")}`);
    assert.throws(() => decodeProduceBatchRequest(bytes), WireFormatError, `ProduceBatchRequest bytes ${bytes.toString("hex")}`);
    assert.throws(() => fromBinary(ConsumeBatchResponseSchema, bytes), Error, `protobuf-es also refuses ${bytes.toString("hex")}`);
  }
});
