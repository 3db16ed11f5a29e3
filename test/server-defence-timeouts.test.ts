// Timeouts on every connection type and what a client is told (issue 9, finding 7): an HTTP/2
// connection past the preface without a call is closed with GOAWAY after the idle timeout while one
// with a tail stream stays; a partial HTTP/1.1 request line is cut off after the headers timeout, and
// a request whose body stalls after the request timeout, while a following stream outlives it, and
// so is an HTTP/2 call's one request (a client stream's requests are not); a
// grpc-timeout beyond what a Node timer holds (2^31-1 ms) is no deadline rather than an instant one;
// DATA_LOSS answers name the damaged file, not where the server keeps it.
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { stat } from "node:fs/promises";
import { once } from "node:events";
import * as http2 from "node:http2";
import * as net from "node:net";
import { test } from "node:test";
import { InvalidConfigError } from "../src/errors.ts";
import { ConsumeRequestSchema, ProduceRequestSchema } from "../src/gen/log/v1/log_pb.ts";
import { resolveServerConfig } from "../src/server/config.ts";
import { grpcTestClient, statusOf, take } from "./support/grpc-log-client.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { frame } from "./support/raw-grpc.ts";
import { ERROR_CODE, FrameType, goawayErrorCode, RawHttp2Connection } from "./support/raw-http2.ts";
import { flipByte, segmentFile } from "./support/segment-files.ts";
import { tempDir } from "./support/temp-dir.ts";
import { cleanup } from "./support/cleanup.ts";
import { waitUntil } from "./support/wait-until.ts";

const SHORT_TIMEOUT_MS = 300;
/** Bound for a timeout of SHORT_TIMEOUT_MS to have fired, with room for a busy machine. */
const FIRED_WITHIN_MS = 5_000;

test("the connection limits and timeouts are validated at start-up with a message naming them", () => {
  const bad: Array<[object, RegExp]> = [
    [{ limits: { streamResetsPerConnectionMax: 0 } }, /limits\.streamResetsPerConnectionMax/],
    [{ limits: { streamResetWindowMs: 0 } }, /limits\.streamResetWindowMs/],
    [{ limits: { connectionIdleTimeoutMs: 2 ** 31 } }, /limits\.connectionIdleTimeoutMs/],
    [{ limits: { requestHeadersTimeoutMs: 10 } }, /limits\.requestHeadersTimeoutMs/],
    [{ limits: { firstBytesTimeoutMs: 10 } }, /limits\.firstBytesTimeoutMs/],
    // Node refuses a request timeout below the headers timeout.
    [{ limits: { requestHeadersTimeoutMs: 20_000, requestTimeoutMs: 10_000 } }, /limits\.requestTimeoutMs/],
    [{ limits: { streamBytesInFlightMax: 4 * 1024 * 1024, connectionBytesInFlightMax: 1024 * 1024 } }, /limits\.connectionBytesInFlightMax/],
  ];
  for (const [input, message] of bad) assert.throws(() => resolveServerConfig(input), (error: unknown) => error instanceof InvalidConfigError && message.test(error.message));
  // A headers timeout above the request timeout's default takes the request timeout with it, unless that is set.
  assert.equal(resolveServerConfig({ limits: { requestHeadersTimeoutMs: 90_000 } }).limits.requestTimeoutMs, 90_000);
});

test("an HTTP/2 connection without a call gets GOAWAY after the idle timeout; one with a tail stream stays", async (t) => {
  const server = await startLogServer(t, { limits: { connectionIdleTimeoutMs: SHORT_TIMEOUT_MS } });
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  const tail = client.serverStream("consumeStream", { offset: 0n });
  const tailStatus = statusOf(tail);
  await waitUntil("the tail stream to open", () => server.streamsOpen === 1);

  const goaways: number[] = [];
  const idle = new RawHttp2Connection(server.address.port, (received) => {
    if (received.type === FrameType.goaway) goaways.push(goawayErrorCode(received));
  });
  cleanup(t, () => idle.destroy());
  let idleClosed = false;
  void idle.closed.then(() => (idleClosed = true));
  await waitUntil("the idle connection to be closed", () => idleClosed, FIRED_WITHIN_MS);
  assert.ok(goaways.length > 0 && goaways.every((code) => code === ERROR_CODE.noError), `GOAWAY codes ${goaways.join(", ")}`);

  // The tail stream's connection outlived the idle timeout: it still takes the next record.
  const next = take(tail, 1);
  await client.unary("produce", { record: { value: Buffer.from("still here") } });
  assert.equal(Buffer.from((await next)[0].record.value).toString(), "still here");
  tail.cancel();
  assert.equal((await tailStatus).code, grpc.status.CANCELLED);
});

test("a partial HTTP/1.1 request line is cut off after the headers timeout", async (t) => {
  const server = await startLogServer(t, { limits: { requestHeadersTimeoutMs: SHORT_TIMEOUT_MS } });
  const socket = net.connect(server.address.port, "127.0.0.1");
  cleanup(t, () => socket.destroy());
  socket.on("error", () => undefined);
  let closed = false;
  socket.once("close", () => (closed = true));
  socket.resume();
  socket.write("POST /log.v1.Log/GetOffsets HT");
  await waitUntil("the server to close the connection", () => closed, FIRED_WITHIN_MS);
});

test("an HTTP/1.1 request whose body stalls is answered 408 and closed after the request timeout; a following stream outlives it", async (t) => {
  const server = await startLogServer(t, { limits: { requestHeadersTimeoutMs: SHORT_TIMEOUT_MS, requestTimeoutMs: 2 * SHORT_TIMEOUT_MS } });
  const open = (request: string | Buffer): { answer: () => string; closed: () => boolean } => {
    const socket = net.connect(server.address.port, "127.0.0.1");
    cleanup(t, () => socket.destroy());
    socket.on("error", () => undefined);
    let answer = "";
    let closed = false;
    socket.on("data", (chunk: Buffer) => (answer += chunk.toString("latin1")));
    socket.once("close", () => (closed = true));
    socket.write(request);
    return { answer: () => answer, closed: () => closed };
  };
  const body = Buffer.from(JSON.stringify({ offset: "0" }));
  const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
  const following = open(
    Buffer.concat([Buffer.from(`POST /log.v1.Log/ConsumeStream HTTP/1.1\r\nHost: node\r\nContent-Type: application/connect+json\r\nContent-Length: ${envelope.length}\r\n\r\n`), envelope]),
  );
  // Before, a body that stopped part way held its connection for good (a connection of connectionsMax).
  const stalled = open("POST /log.v1.Log/Produce HTTP/1.1\r\nHost: node\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"rec");
  await waitUntil("the stalled request to be cut off", () => stalled.closed(), FIRED_WITHIN_MS);
  assert.match(stalled.answer(), /^HTTP\/1\.1 408 /);
  // The following stream's request arrived whole: it waits for records as long as it likes.
  assert.equal(following.closed(), false, "a following stream is not cut off");
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  await client.unary("produce", { record: { value: Buffer.from("for the follower") } });
  await waitUntil("the follower to get the record", () => following.answer().includes(Buffer.from("for the follower").toString("base64")), FIRED_WITHIN_MS);
});

test("an HTTP/2 call whose request stalls part way is ended after the request timeout (gRPC: DEADLINE_EXCEEDED; Connect: the stream is reset), freeing its stream; a ProduceStream that sends slowly is not", async (t) => {
  const server = await startLogServer(t, { limits: { requestHeadersTimeoutMs: SHORT_TIMEOUT_MS, requestTimeoutMs: 2 * SHORT_TIMEOUT_MS } });
  const session = http2.connect(`http://127.0.0.1:${server.address.port}`);
  cleanup(t, () => session.destroy());
  session.on("error", () => undefined);
  const open = (path: string, contentType: string, firstBytes: Buffer) => {
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": contentType, te: "trailers" });
    stream.on("error", () => undefined);
    const seen = { status: undefined as string | undefined, message: "", data: Buffer.alloc(0), closed: false };
    const status = (headers: http2.IncomingHttpHeaders): void => {
      if (headers["grpc-status"] === undefined) return;
      seen.status = String(headers["grpc-status"]);
      seen.message = decodeURIComponent(String(headers["grpc-message"] ?? ""));
    };
    stream.on("response", status);
    stream.on("trailers", status);
    stream.on("data", (chunk: Buffer) => (seen.data = Buffer.concat([seen.data, chunk])));
    stream.once("close", () => (seen.closed = true));
    stream.write(firstBytes);
    return { stream, seen };
  };
  const produce = (value: string): Buffer => frame(toBinary(ProduceRequestSchema, create(ProduceRequestSchema, { record: { value: Buffer.from(value) } })));
  // Before, each held its stream for good: one of streamsPerConnectionMax, and of the node's streamsMax.
  const grpcStalled = open("/log.v1.Log/Produce", "application/grpc", produce("never whole").subarray(0, 8));
  const connectStalled = open("/log.v1.Log/Produce", "application/json", Buffer.from('{"rec'));
  const slow = open("/log.v1.Log/ProduceStream", "application/grpc", produce("first"));
  await waitUntil("the three calls to be served", () => server.streamsOpen === 3);

  await waitUntil("the stalled gRPC call to end", () => grpcStalled.seen.closed, FIRED_WITHIN_MS);
  assert.equal(grpcStalled.seen.status, String(grpc.status.DEADLINE_EXCEEDED));
  assert.match(grpcStalled.seen.message, /did not arrive whole within 600 ms \(limits\.requestTimeoutMs\)/);
  await waitUntil("the stalled Connect call to be reset", () => connectStalled.seen.closed, FIRED_WITHIN_MS);
  assert.equal(connectStalled.stream.rstCode, http2.constants.NGHTTP2_CANCEL);
  assert.equal(server.streamsOpen, 1, "their streams are free");

  // The stream sends its second record after the timeout: both are acknowledged.
  assert.equal(slow.seen.closed, false, "a client stream is not cut off");
  slow.stream.end(produce("second"));
  await waitUntil("the slow stream to end", () => slow.seen.closed, FIRED_WITHIN_MS);
  assert.equal(slow.seen.status, "0", slow.seen.message);
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  assert.deepEqual(
    await Promise.all([0n, 1n].map(async (offset) => Buffer.from((await client.unary("consume", { offset })).record.value).toString())),
    ["first", "second"],
    "only the slow stream's records were appended",
  );
});

test("a grpc-timeout beyond 2^31-1 ms does not end the call at once", async (t) => {
  const server = await startLogServer(t);
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  const session = http2.connect(`http://127.0.0.1:${server.address.port}`);
  cleanup(t, () => session.destroy());
  session.on("error", () => undefined);
  const request = session.request({
    ":method": "POST",
    ":path": "/log.v1.Log/ConsumeStream",
    "content-type": "application/grpc",
    te: "trailers",
    "grpc-timeout": "99999999H",
  });
  request.on("error", () => undefined);
  request.end(frame(toBinary(ConsumeRequestSchema, create(ConsumeRequestSchema, { offset: 0n }))));
  const firstAnswer = new Promise<void>((resolve, reject) => {
    request.once("data", () => resolve());
    request.once("trailers", (trailers) => reject(new Error(`the call ended with grpc-status ${String(trailers["grpc-status"])}`)));
    request.once("response", (headers) => {
      if (headers["grpc-status"] !== undefined) reject(new Error(`the call ended with grpc-status ${String(headers["grpc-status"])}`));
    });
  });
  await waitUntil("the stream to open", () => server.streamsOpen === 1);
  await client.unary("produce", { record: { value: Buffer.from("after a long wait") } });
  await firstAnswer;
  request.close(http2.constants.NGHTTP2_CANCEL);
});

test("a malformed grpc-timeout is refused with INVALID_ARGUMENT, not taken as no deadline", async (t) => {
  const server = await startLogServer(t);
  const session = http2.connect(`http://127.0.0.1:${server.address.port}`);
  cleanup(t, () => session.destroy());
  session.on("error", () => undefined);
  for (const timeout of ["1x", "123456789m", "-5S", "5"]) {
    const request = session.request({ ":method": "POST", ":path": "/log.v1.Log/GetOffsets", "content-type": "application/grpc", te: "trailers", "grpc-timeout": timeout });
    request.on("error", () => undefined);
    request.end(frame(new Uint8Array(0)));
    const [headers] = (await once(request, "response")) as [http2.IncomingHttpHeaders];
    assert.equal(headers["grpc-status"], "3", timeout);
    assert.match(decodeURIComponent(String(headers["grpc-message"])), /malformed grpc-timeout/);
  }
});

test("a DATA_LOSS answer names the damaged file, not the server's data directory", async (t) => {
  const dataDir = await tempDir(t);
  const server = await startLogServer(t, { dataDir });
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  await client.unary("produceBatch", { values: Array.from({ length: 10 }, (_, i) => Buffer.from(`record ${i} with some length`)) });
  // The last byte of the store lies in the last record's value: its checksum no longer matches.
  const store = segmentFile(dataDir, 0, ".store");
  const { size } = await stat(store);
  await flipByte(store, size - 1);
  await assert.rejects(client.unary("consume", { offset: 9n }), (error: grpc.ServiceError) => {
    assert.equal(error.code, grpc.status.DATA_LOSS, error.message);
    assert.ok(!error.details.includes(dataDir), `the answer names the data directory: ${error.details}`);
    assert.match(error.details, /00000000000000000000\.store/);
    return true;
  });
});
