// Limits and bad input: every limit is validated at start-up and enforced; malformed and oversized
// input gets an error status while the server stays up; a reader that stops reading is held back
// by flow control instead of growing the server's memory.
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as net from "node:net";
import { test } from "node:test";
import { LoghouseClient } from "../src/client/client.ts";
import { BatchTooLargeError, InvalidConfigError, RecordTooLargeError } from "../src/errors.ts";
import { ProduceRequestSchema } from "../src/gen/log/v1/log_pb.ts";
import { resolveServerConfig } from "../src/server/config.ts";
import { grpcTestClient, statusOf, take } from "./support/grpc-log-client.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { frame, rawGrpcCall } from "./support/raw-grpc.ts";
import { waitUntil } from "./support/wait-until.ts";
import { cleanup } from "./support/cleanup.ts";

const produceBytes = (value: string): Buffer => Buffer.from(toBinary(ProduceRequestSchema, create(ProduceRequestSchema, { record: { value: Buffer.from(value) } })));

async function serverAndClient(t: import("node:test").TestContext, input = {}) {
  const server = await startLogServer(t, input);
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  return { server, client, port: server.address.port };
}

async function stillServes(client: ReturnType<typeof grpcTestClient>): Promise<void> {
  const { endOffset } = await client.unary("getOffsets", {});
  const { offset } = await client.unary("produce", { record: { value: Buffer.from("alive") } });
  assert.equal(offset, endOffset);
}

test("every limit is validated at start-up with a message naming it", () => {
  const bad: Array<[object, RegExp]> = [
    [{ limits: { recordBytesMax: 0 } }, /limits\.recordBytesMax/],
    [{ limits: { recordBytesMax: 1024 * 1024, messageBytesMax: 1024 * 1024 } }, /limits\.messageBytesMax/],
    [{ limits: { streamsMax: 10, streamsPerConnectionMax: 11 } }, /limits\.streamsPerConnectionMax/],
    [{ limits: { streamBytesInFlightMax: 10 } }, /limits\.streamBytesInFlightMax/],
    [{ limits: { readBytesMax: 1 << 30 } }, /limits\.readBytesMax/],
    [{ limits: { batchRecords: 5 } }, /unknown limit: batchRecords/],
    [{ port: 70_000 }, /port/],
    [{ dataDir: "" }, /dataDir/],
    [{ colour: "blue" }, /unknown server config field: colour/],
    [{ log: { batchBytesMax: 2 * 1024 * 1024 } }, /log\.batchBytesMax .* below the largest batch/],
    [{ log: { durability: "sometimes" } }, /durability/],
  ];
  for (const [input, message] of bad) assert.throws(() => resolveServerConfig(input), (error: unknown) => error instanceof InvalidConfigError && message.test(error.message));
  assert.equal(resolveServerConfig({}).limits.recordBytesMax, resolveServerConfig({}).log.recordBytesMax);
});

test("malformed protobuf is INVALID_ARGUMENT on gRPC and an error on Connect; the server stays up", async (t) => {
  const { client, port } = await serverAndClient(t);
  const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
  for (const path of ["/log.v1.Log/Produce", "/log.v1.Log/ProduceBatch", "/log.v1.Log/ConsumeStream"]) {
    const result = await rawGrpcCall(port, path, frame(garbage));
    assert.equal(result.status, grpc.status.INVALID_ARGUMENT, `${path}: ${result.message}`);
  }
  const stream = await rawGrpcCall(port, "/log.v1.Log/ProduceStream", Buffer.concat([frame(produceBytes("ok")), frame(garbage)]));
  assert.equal(stream.status, grpc.status.INVALID_ARGUMENT);
  // connect-es answers a body it cannot parse with "internal" (as grpc-go does for gRPC); the fast
  // path says invalid_argument, which tells the client the fault is in what it sent.
  const connect = await fetch(`http://127.0.0.1:${port}/log.v1.Log/Produce`, { method: "POST", headers: { "content-type": "application/proto" }, body: garbage });
  const answer = (await connect.json()) as { code: string; message: string };
  assert.equal(answer.code, "internal");
  assert.match(answer.message, /parse binary/);
  await stillServes(client);
});

test("protocol errors: no message, two messages, a cut-off message, compression", async (t) => {
  const { client, port } = await serverAndClient(t);
  const one = frame(produceBytes("x"));
  assert.equal((await rawGrpcCall(port, "/log.v1.Log/Produce", Buffer.alloc(0))).status, grpc.status.INVALID_ARGUMENT);
  assert.equal((await rawGrpcCall(port, "/log.v1.Log/Produce", Buffer.concat([one, one]))).status, grpc.status.INVALID_ARGUMENT);
  assert.equal((await rawGrpcCall(port, "/log.v1.Log/Produce", one.subarray(0, 7))).status, grpc.status.INVALID_ARGUMENT);
  assert.equal((await rawGrpcCall(port, "/log.v1.Log/Produce", frame(produceBytes("x"), 1))).status, grpc.status.UNIMPLEMENTED);
  const gzip = await rawGrpcCall(port, "/log.v1.Log/Produce", one, { headers: { "grpc-encoding": "gzip" } });
  assert.equal(gzip.status, grpc.status.UNIMPLEMENTED);
  assert.equal((await client.unary("getOffsets", {})).endOffset, 0n, "nothing was appended");
  await stillServes(client);
});

test("a message declared larger than messageBytesMax is refused before its body is sent", async (t) => {
  const messageBytesMax = 64 * 1024;
  const { client, port } = await serverAndClient(t, { limits: { recordBytesMax: 1024, messageBytesMax, readBytesMax: 16 * 1024 } });
  // Only the 5-byte header and a few bytes go out, and the request is never ended: the answer cannot wait for the body.
  const result = await rawGrpcCall(port, "/log.v1.Log/ProduceBatch", frame(Buffer.alloc(10), 0, 1 << 30), { endStream: false });
  assert.equal(result.status, grpc.status.RESOURCE_EXHAUSTED);
  assert.match(result.message, /exceeds messageBytesMax 65536/);
  // Typed for a client, which knows then to send smaller batches (before: a plain RpcError).
  const typed = new LoghouseClient(`127.0.0.1:${port}`);
  cleanup(t, () => typed.close());
  await assert.rejects(typed.produceBatch(Array.from({ length: 70 }, () => Buffer.alloc(1000))), (error: unknown) => error instanceof BatchTooLargeError && /exceeds messageBytesMax 65536/.test(error.message));
  await assert.rejects(typed.produce(Buffer.alloc(70_000)), (error: unknown) => error instanceof RecordTooLargeError && /exceeds messageBytesMax 65536/.test(error.message));
  const connect = await fetch(`http://127.0.0.1:${port}/log.v1.Log/ProduceBatch`, {
    method: "POST",
    headers: { "content-type": "application/proto" },
    body: Buffer.alloc(messageBytesMax + 1),
  });
  assert.equal(((await connect.json()) as { code: string }).code, "resource_exhausted");
  await stillServes(client);
});

test("over HTTP/2, Connect and gRPC-Web answer an oversized request, reset its rest with NO_ERROR and free its stream", async (t) => {
  const messageBytesMax = 64 * 1024;
  const streamBytesInFlightMax = 64 * 1024;
  const { server, client, port } = await serverAndClient(t, { limits: { recordBytesMax: 1024, messageBytesMax, readBytesMax: 16 * 1024, streamBytesInFlightMax } });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  cleanup(t, () => session.destroy());
  session.on("error", () => undefined);
  const oversized = Buffer.alloc(16 * messageBytesMax);
  const kinds: Array<[string, Buffer]> = [
    ["application/json", oversized],
    ["application/proto", oversized],
    ["application/grpc-web+proto", Buffer.concat([frame(Buffer.alloc(0), 0, oversized.length), oversized])],
  ];
  for (const [contentType, body] of kinds) {
    const request = session.request({ ":method": "POST", ":path": "/log.v1.Log/ProduceBatch", "content-type": contentType });
    request.on("error", () => undefined);
    let status = 0;
    request.on("response", (headers) => (status = Number(headers[":status"])));
    let answer = "";
    request.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    // Many times the stream's flow-control window (streamBytesInFlightMax): the client cannot finish sending it.
    request.end(body);
    // Node's client reports a reset by the server as closed with the code, and keeps its unsent data.
    await waitUntil(`the ${contentType} request to be reset`, () => request.closed && request.rstCode === http2.constants.NGHTTP2_NO_ERROR, 10_000);
    // RESOURCE_EXHAUSTED: Connect's HTTP status for it, or gRPC-Web's status in the body's trailers.
    if (contentType.startsWith("application/grpc-web")) assert.ok(status === 200 && /grpc-status: ?8\r\n/.test(answer), `${status} ${answer}`);
    else assert.ok(status === 429 && answer.includes("resource_exhausted"), `${contentType}: ${status} ${answer}`);
  }
  // Before, each such stream held its place among the connection's calls until the connection closed.
  await waitUntil("the server to let every stream go", () => server.streamsOpen === 0, 10_000);
  await stillServes(client);
});

test("oversized records and batches are RESOURCE_EXHAUSTED and append nothing", async (t) => {
  const { client } = await serverAndClient(t, { limits: { recordBytesMax: 1000, batchRecordsMax: 100 } });
  const expectExhausted = async (call: Promise<unknown>): Promise<void> => {
    await assert.rejects(call, (error: grpc.ServiceError) => error.code === grpc.status.RESOURCE_EXHAUSTED);
  };
  await expectExhausted(client.unary("produce", { record: { value: Buffer.alloc(1001) } }));
  await expectExhausted(client.unary("produceBatch", { values: [Buffer.alloc(10), Buffer.alloc(1001), Buffer.alloc(10)] }));
  await expectExhausted(client.unary("produceBatch", { values: Array.from({ length: 101 }, () => Buffer.alloc(1)) }));
  assert.equal((await client.unary("getOffsets", {})).endOffset, 0n);
  await client.unary("produce", { record: { value: Buffer.alloc(1000) } });
  await client.unary("produceBatch", { values: Array.from({ length: 100 }, () => Buffer.alloc(1)) });
  assert.equal((await client.unary("getOffsets", {})).endOffset, 101n);
});

test("ProduceStream acknowledges the records before an oversized one, then ends with RESOURCE_EXHAUSTED", async (t) => {
  const { client } = await serverAndClient(t, { limits: { recordBytesMax: 1000 } });
  const call = client.bidiStream("produceStream");
  const status = statusOf(call);
  const acks: bigint[] = [];
  call.on("data", (ack: { offset: bigint }) => acks.push(ack.offset));
  for (const bytes of [10, 20, 30, 5000, 40]) call.write({ record: { value: Buffer.alloc(bytes) } });
  call.end();
  assert.equal((await status).code, grpc.status.RESOURCE_EXHAUSTED);
  assert.deepEqual(acks, [0n, 1n, 2n]);
  assert.equal((await client.unary("getOffsets", {})).endOffset, 3n);
});

test("streams beyond streamsMax are RESOURCE_EXHAUSTED; a closed stream frees its place", async (t) => {
  const { server, client } = await serverAndClient(t, { limits: { streamsMax: 4, streamsPerConnectionMax: 4 } });
  const open = Array.from({ length: 3 }, () => client.serverStream("consumeStream", { offset: 0n }));
  const statuses = open.map(statusOf);
  await waitUntil("three streams open", () => server.streamsOpen === 3);
  const fourth = client.serverStream("consumeStream", { offset: 0n });
  const fourthStatus = statusOf(fourth);
  await waitUntil("four streams open", () => server.streamsOpen === 4);
  // A fifth from another connection (grpc-js would otherwise share the first): the total is what is limited.
  const other = grpcTestClient(addressOf(server), false, { "grpc.use_local_subchannel_pool": 1 });
  cleanup(t, () => other.close());
  const refused = await statusOf(other.serverStream("consumeStream", { offset: 0n }));
  assert.equal(refused.code, grpc.status.RESOURCE_EXHAUSTED);
  fourth.cancel();
  await fourthStatus;
  await waitUntil("three streams open", () => server.streamsOpen === 3);
  assert.equal((await other.unary("getOffsets", {})).endOffset, 0n);
  for (const call of open) call.cancel();
  await Promise.all(statuses);
});

test("a deadline ends a waiting stream with DEADLINE_EXCEEDED", async (t) => {
  const { client } = await serverAndClient(t);
  const call = client.serverStream("consumeStream", { offset: 0n }, { deadline: Date.now() + 200 });
  assert.equal((await statusOf(call)).code, grpc.status.DEADLINE_EXCEEDED);
});

test("a reader that stops reading is held back by flow control; it gets everything once it reads again", async (t) => {
  const streamBytesInFlightMax = 256 * 1024;
  const { server, client, port } = await serverAndClient(t, { limits: { streamBytesInFlightMax, readBytesMax: 64 * 1024 } });
  const session = http2.connect(`http://127.0.0.1:${port}`);
  cleanup(t, () => session.close());
  const request = session.request({ ":method": "POST", ":path": "/log.v1.Log/ConsumeBatchStream", "content-type": "application/grpc", te: "trailers" });
  request.end(frame(Buffer.alloc(0)));
  request.pause();
  const batch = Array.from({ length: 1000 }, () => Buffer.alloc(1000, 7));
  for (let i = 0; i < 40; i++) await client.unary("produceBatch", { values: batch }); // 40 MB
  await waitUntil("the server to fill the stream's budget", () => server.bytesQueued > 0 || undefined);
  assert.ok(server.bytesQueued <= streamBytesInFlightMax + 128 * 1024, `server holds ${server.bytesQueued} bytes for a reader that does not read`);
  let received = 0;
  request.on("data", (chunk: Buffer) => (received += chunk.length));
  request.resume();
  await waitUntil("the reader to catch up", () => received >= 40 * 1000 * 1000 || undefined, 30_000);
  request.close();
  await stillServes(client);
});

test("bytes that are not HTTP close that connection only", async (t) => {
  const { client, port } = await serverAndClient(t);
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  socket.resume();
  socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00]));
  socket.write("\r\n\r\n");
  await new Promise((resolve) => socket.once("close", resolve));
  const raft = net.connect(port, "127.0.0.1");
  raft.on("error", () => undefined);
  raft.resume();
  raft.write(Buffer.from([0x01, 0x02, 0x03]));
  await new Promise((resolve) => raft.once("close", resolve));
  await stillServes(client);
});
