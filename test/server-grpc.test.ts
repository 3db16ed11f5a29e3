// Every RPC of log.v1.Log and grpc.health.v1.Health over a real socket from grpc-js, an
// independent gRPC implementation: the seed's contract (names, numbers, semantics) plus the batch
// extensions, tail-following, out-of-range codes and the error-code metadata.
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RpcCode } from "../src/errors.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { grpcTestClient, statusOf, take, type GrpcTestClient } from "./support/grpc-log-client.ts";
import { waitUntil } from "./support/wait-until.ts";
import { cleanup } from "./support/cleanup.ts";

const U64_MAX = 2n ** 64n - 1n;

async function connect(t: import("node:test").TestContext, input = {}): Promise<{ client: GrpcTestClient; server: Awaited<ReturnType<typeof startLogServer>> }> {
  const server = await startLogServer(t, input);
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  return { client, server };
}

function text(value: Uint8Array): string {
  return Buffer.from(value).toString();
}

async function rejectsWith(promise: Promise<unknown>, code: number, message?: string | RegExp): Promise<grpc.ServiceError> {
  try {
    await promise;
  } catch (error) {
    const serviceError = error as grpc.ServiceError;
    assert.equal(serviceError.code, code, `expected code ${code}, got ${serviceError.code}: ${serviceError.details}`);
    if (typeof message === "string") assert.equal(serviceError.details, message);
    if (message instanceof RegExp) assert.match(serviceError.details, message);
    return serviceError;
  }
  assert.fail(`expected the call to fail with code ${code}`);
}

describe("seed RPCs over grpc-js", () => {
  test("Produce answers with consecutive offsets and Consume reads each record back", async (t) => {
    const { client } = await connect(t);
    const first = await client.unary("produce", { record: { value: Buffer.from("hello world") } });
    const second = await client.unary("produce", { record: { value: Buffer.from("second"), offset: 99n, term: 7n, type: 3 } });
    assert.equal(first.offset, 0n);
    assert.equal(second.offset, 1n);
    const consumed = await client.unary("consume", { offset: 1n });
    assert.equal(text(consumed.record.value), "second");
    assert.equal(consumed.record.offset, 1n);
    // Offset, term and type are the log's to assign: a client's values are ignored.
    assert.equal(consumed.record.term, 0n);
    assert.equal(consumed.record.type, 0);
    assert.ok(consumed.record.timestampMs > 0n && consumed.record.timestampMs <= BigInt(Date.now()));
  });

  test("Consume outside the log is OUT_OF_RANGE with the offset in the message, up to 2^64-1", async (t) => {
    const { client } = await connect(t);
    await client.unary("produce", { record: { value: Buffer.from("only") } });
    for (const offset of [1n, 2n, 2n ** 53n, 2n ** 63n, U64_MAX]) {
      const error = await rejectsWith(client.unary("consume", { offset }), grpc.status.OUT_OF_RANGE, `offset out of range: ${offset}`);
      assert.deepEqual(error.metadata.get("loghouse-error-code"), ["OFFSET_OUT_OF_RANGE"]);
    }
    assert.equal(grpc.status.OUT_OF_RANGE, RpcCode.outOfRange);
  });

  test("ProduceStream answers every record in order", async (t) => {
    const { client } = await connect(t);
    const call = client.bidiStream("produceStream");
    const acks = take(call, 100);
    for (let i = 0; i < 100; i++) call.write({ record: { value: Buffer.from(`record-${i}`) } });
    assert.deepEqual((await acks).map((ack) => ack.offset), Array.from({ length: 100 }, (_, i) => BigInt(i)));
    const status = statusOf(call);
    call.end();
    assert.equal((await status).code, grpc.status.OK);
    assert.equal(text((await client.unary("consume", { offset: 42n })).record.value), "record-42");
  });

  test("ProduceStream acknowledgements are pipelined: the server reads on while earlier records are being synced", async (t) => {
    const { client, server } = await connect(t);
    // Count the stream's appends that are waiting for the disk at once: without pipelining it is never more than one.
    const log = server.log as { append: (values: readonly Uint8Array[]) => Promise<number> };
    const append = log.append.bind(log);
    let waiting = 0;
    let waitingMax = 0;
    log.append = (values) => {
      waitingMax = Math.max(waitingMax, ++waiting);
      return append(values).finally(() => waiting--);
    };
    const call = client.bidiStream("produceStream");
    const acks = take(call, 2000);
    for (let i = 0; i < 2000; i++) call.write({ record: { value: Buffer.alloc(100, i % 256) } });
    assert.deepEqual((await acks).map((ack) => ack.offset), Array.from({ length: 2000 }, (_, i) => BigInt(i)));
    call.end();
    t.diagnostic(`up to ${waitingMax} appends waiting at once`);
    assert.ok(waitingMax > 10, `at most ${waitingMax} appends of the stream were waiting for the disk at once`);
    assert.equal((await client.unary("getOffsets", {})).endOffset, 2000n);
  });

  test("ConsumeStream sends what exists, then follows the tail, and ends cleanly on cancel", async (t) => {
    const { client, server } = await connect(t);
    for (const value of ["a", "b", "c"]) await client.unary("produce", { record: { value: Buffer.from(value) } });
    const call = client.serverStream("consumeStream", { offset: 1n });
    const status = statusOf(call);
    assert.deepEqual((await take(call, 2)).map((r) => [r.record.offset, text(r.record.value)]), [
      [1n, "b"],
      [2n, "c"],
    ]);
    const next = take(call, 2);
    await client.unary("produceBatch", { values: [Buffer.from("d"), Buffer.from("e")] });
    assert.deepEqual((await next).map((r) => text(r.record.value)), ["d", "e"]);
    call.cancel();
    assert.equal((await status).code, grpc.status.CANCELLED);
    // The server forgets the stream: no call is left in progress.
    await waitUntil("the server to forget the stream", () => server.streamsOpen === 0);
  });

  test("ConsumeStream from an offset beyond the end waits for it", async (t) => {
    const { client } = await connect(t);
    const call = client.serverStream("consumeStream", { offset: 2n });
    const status = statusOf(call);
    const first = take(call, 1);
    for (const value of ["x", "y", "z"]) await client.unary("produce", { record: { value: Buffer.from(value) } });
    assert.equal(text((await first)[0].record.value), "z");
    call.cancel();
    assert.equal((await status).code, grpc.status.CANCELLED);
  });

  test("ConsumeStream below the lowest retained offset, or beyond 2^53, is OUT_OF_RANGE at once", async (t) => {
    const { client, server } = await connect(t, { limits: { recordBytesMax: 1024 }, log: { storeBytesMax: 4096 } });
    for (let i = 0; i < 20; i++) await client.unary("produceBatch", { values: Array.from({ length: 10 }, () => Buffer.alloc(100)) });
    const lowest = await server.storage!.dropBefore(100);
    assert.ok(lowest > 0);
    for (const offset of [0n, BigInt(lowest - 1), 2n ** 53n, U64_MAX]) {
      const status = await statusOf(client.serverStream("consumeStream", { offset }));
      assert.equal(status.code, grpc.status.OUT_OF_RANGE);
      assert.equal(status.details, `offset out of range: ${offset}`);
    }
  });

  test("GetServers lists this node as the leader at its address", async (t) => {
    const { client, server } = await connect(t, { nodeId: "node-a" });
    const response = await client.unary("getServers", {});
    assert.equal(response.servers.length, 1);
    assert.equal(response.servers[0].id, "node-a");
    assert.equal(response.servers[0].rpcAddr, addressOf(server));
    assert.equal(response.servers[0].isLeader, true);
  });
});

describe("batch extensions over grpc-js", () => {
  test("ProduceBatch appends many records with consecutive offsets, answered with the first", async (t) => {
    const { client } = await connect(t);
    await client.unary("produce", { record: { value: Buffer.from("before") } });
    const response = await client.unary("produceBatch", { values: Array.from({ length: 500 }, (_, i) => Buffer.from(`v${i}`)) });
    assert.equal(response.firstOffset, 1n);
    assert.equal(response.count, 500);
    assert.equal(text((await client.unary("consume", { offset: 500n })).record.value), "v499");
  });

  test("ProduceBatch stores every value exactly as sent, empty ones included, with and without a producer", async (t) => {
    const { client } = await connect(t);
    // More values than the server's decoder makes room for at first, of every size up to a few KiB.
    const sent = Array.from({ length: 1500 }, (_, i) => (i % 7 === 0 ? Buffer.alloc(0) : Buffer.alloc((i * 37) % 2000, i % 251)));
    const plain = await client.unary("produceBatch", { values: sent });
    const producer = { producerId: Buffer.from("gathered-producer"), sequence: 0n };
    const marked = await client.unary("produceBatch", { values: sent, producer });
    assert.deepEqual(await client.unary("produceBatch", { values: sent, producer }), marked, "a retry is answered with the original's offsets");
    for (const firstOffset of [plain.firstOffset, marked.firstOffset]) {
      const received: Buffer[] = [];
      while (received.length < sent.length) {
        const { records } = await client.unary("consumeBatch", { offset: firstOffset + BigInt(received.length), maxRecords: sent.length - received.length });
        received.push(...records.map((record: { value: Uint8Array }) => Buffer.from(record.value)));
      }
      assert.deepEqual(received, sent);
    }
  });

  test("ProduceBatch with no records is INVALID_ARGUMENT", async (t) => {
    const { client } = await connect(t);
    await rejectsWith(client.unary("produceBatch", { values: [] }), grpc.status.INVALID_ARGUMENT);
  });

  test("ConsumeBatch reads up to a count and a byte budget and says where to continue", async (t) => {
    const { client } = await connect(t);
    await client.unary("produceBatch", { values: Array.from({ length: 100 }, (_, i) => Buffer.alloc(1000, i)) });
    const byCount = await client.unary("consumeBatch", { offset: 10n, maxRecords: 7 });
    assert.deepEqual(byCount.records.map((r: { offset: bigint }) => r.offset), [10n, 11n, 12n, 13n, 14n, 15n, 16n]);
    assert.equal(byCount.nextOffset, 17n);
    assert.equal(byCount.endOffset, 100n);
    const byBytes = await client.unary("consumeBatch", { offset: 0n, maxBytes: 5000 });
    assert.ok(byBytes.records.length >= 1 && byBytes.records.length <= 5, `read ${byBytes.records.length} records of 1000 bytes in 5000`);
    assert.equal(byBytes.records[0].value[0], 0);
    const all = await client.unary("consumeBatch", { offset: 0n });
    assert.equal(all.records.length, 100);
    assert.equal(all.nextOffset, 100n);
  });

  test("ConsumeBatch at the end answers empty at once, or waits up to max_wait_ms for a record", async (t) => {
    const { client } = await connect(t);
    await client.unary("produce", { record: { value: Buffer.from("a") } });
    const empty = await client.unary("consumeBatch", { offset: 1n });
    assert.equal(empty.records.length, 0);
    assert.equal(empty.nextOffset, 1n);
    const started = performance.now();
    const timedOut = await client.unary("consumeBatch", { offset: 1n, maxWaitMs: 150 });
    assert.equal(timedOut.records.length, 0);
    assert.ok(performance.now() - started >= 140, "waited for max_wait_ms");
    const waiting = client.unary("consumeBatch", { offset: 1n, maxWaitMs: 30_000 });
    await client.unary("produce", { record: { value: Buffer.from("b") } });
    const arrived = await waiting;
    assert.deepEqual(arrived.records.map((r: { value: Uint8Array }) => text(r.value)), ["b"]);
    await rejectsWith(client.unary("consumeBatch", { offset: 3n }), grpc.status.OUT_OF_RANGE, "offset out of range: 3");
    await rejectsWith(client.unary("consumeBatch", { offset: U64_MAX }), grpc.status.OUT_OF_RANGE, `offset out of range: ${U64_MAX}`);
  });

  test("ConsumeBatchStream sends batches and follows the tail", async (t) => {
    const { client } = await connect(t);
    await client.unary("produceBatch", { values: Array.from({ length: 25 }, (_, i) => Buffer.from(`r${i}`)) });
    const call = client.serverStream("consumeBatchStream", { offset: 5n, maxRecords: 10 });
    const status = statusOf(call);
    const batches = await take(call, 2);
    assert.deepEqual(batches.map((b) => b.records.length), [10, 10]);
    assert.equal(batches[1].nextOffset, 25n);
    assert.deepEqual(batches[1].records.map((r: { value: Uint8Array }) => text(r.value)).slice(-2), ["r23", "r24"]);
    const tail = take(call, 1);
    await client.unary("produce", { record: { value: Buffer.from("new") } });
    assert.deepEqual((await tail)[0].records.map((r: { value: Uint8Array }) => text(r.value)), ["new"]);
    call.cancel();
    assert.equal((await status).code, grpc.status.CANCELLED);
  });

  test("OffsetForTimestamp finds the first record created at or after a time", async (t) => {
    let now = 1_000_000;
    const { client } = await connect(t, { log: { clock: () => now } });
    for (const ms of [1_000_000, 1_000_010, 1_000_020]) {
      now = ms;
      await client.unary("produce", { record: { value: Buffer.from(String(ms)) } });
    }
    assert.deepEqual(await client.unary("offsetForTimestamp", { timestampMs: 1_000_005n }), { $typeName: "log.v1.OffsetForTimestampResponse", offset: 1n, found: true });
    assert.deepEqual((await client.unary("offsetForTimestamp", { timestampMs: 0n })).offset, 0n);
    const none = await client.unary("offsetForTimestamp", { timestampMs: 2_000_000n });
    assert.equal(none.found, false);
    assert.equal(none.offset, 3n);
    assert.equal((await client.unary("offsetForTimestamp", { timestampMs: U64_MAX })).found, false);
    const record = await client.unary("consume", { offset: 2n });
    assert.equal(record.record.timestampMs, 1_000_020n);
  });

  test("GetOffsets reports the lowest and end offsets", async (t) => {
    const { client } = await connect(t);
    assert.deepEqual(await client.unary("getOffsets", {}), { $typeName: "log.v1.GetOffsetsResponse", lowestOffset: 0n, endOffset: 0n });
    await client.unary("produceBatch", { values: [Buffer.from("a"), Buffer.from("b")] });
    assert.equal((await client.unary("getOffsets", {})).endOffset, 2n);
  });

  test("an unknown method is UNIMPLEMENTED", async (t) => {
    const { server } = await connect(t);
    const channel = new grpc.Client(addressOf(server), grpc.credentials.createInsecure());
    cleanup(t, () => channel.close());
    const error = await new Promise<grpc.ServiceError>((resolve) =>
      channel.makeUnaryRequest("/log.v1.Log/Nope", (x: Buffer) => x, (x: Buffer) => x, Buffer.alloc(0), (e) => resolve(e!)),
    );
    assert.equal(error.code, grpc.status.UNIMPLEMENTED);
  });
});

describe("health over grpc-js", () => {
  test("Check answers SERVING for the server and its services, NOT_FOUND for others", async (t) => {
    const { client } = await connect(t);
    assert.equal((await client.health.unary("check", { service: "" })).status, 1);
    assert.equal((await client.health.unary("check", { service: "log.v1.Log" })).status, 1);
    await rejectsWith(client.health.unary("check", { service: "nope.v1.Nope" }), grpc.status.NOT_FOUND);
  });

  test("Watch sends SERVING, then NOT_SERVING when shutdown begins, then ends", async (t) => {
    const { client, server } = await connect(t);
    const call = client.health.serverStream("watch", { service: "" });
    const status = statusOf(call);
    assert.equal((await take(call, 1))[0].status, 1);
    const next = take(call, 1);
    const closing = server.close();
    assert.equal((await next)[0].status, 2);
    assert.equal((await status).code, grpc.status.UNAVAILABLE);
    await closing;
  });

  test("a stream waiting at the tail ends UNAVAILABLE with LOG_CLOSED when shutdown begins, for a client to rebuild LogClosedError", async (t) => {
    const { client, server } = await connect(t);
    const call = client.serverStream("consumeStream", { offset: 0n });
    const status = statusOf(call);
    await waitUntil("the stream to wait at the tail", () => server.streamsOpen === 1);
    const closing = server.close();
    const ended = await status;
    assert.equal(ended.code, grpc.status.UNAVAILABLE);
    // Before, the status alone: clients made it an untyped RpcError.
    assert.deepEqual([ended.details, ended.metadata.get("loghouse-error-code")[0]], ["server is shutting down", "LOG_CLOSED"]);
    await closing;
  });
});
