// A stream reset, cancelled or cut off stops reading the log at once (issue 9, finding 1). Node hands
// the server a request before it reads the frames behind it, so a reset written right behind its
// request (as a rapid-reset client does) used to find the call already reading: a ConsumeStream from
// offset 0 read and encoded up to its whole in-flight budget (a megabyte of answers) before it
// noticed. A thousand such streams of a 200,000-record log cost the node more than a minute of CPU
// on the gRPC fast path and 24 s through the Connect router; now 0.2 s and about 1 s. The node is a
// child process, so its CPU time is its own.
import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import * as net from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { grpcTestClient } from "./support/grpc-log-client.ts";
import { startNode, stopNode, type NodeProcess } from "./support/node-process.ts";
import { frame } from "./support/raw-grpc.ts";
import { RawHttp2Connection, request, rstStream } from "./support/raw-http2.ts";
import { tempDir } from "./support/temp-dir.ts";
import { cleanup } from "./support/cleanup.ts";
import { waitUntil } from "./support/wait-until.ts";

const RECORDS = 200_000;
const BATCH_RECORDS = 50_000;
const STREAMS = 1000;
/**
 * Node CPU allowed per reset stream: above what one costs now (about 0.1 ms on the gRPC fast path,
 * 1 ms through the Connect router), far below what one cost before (tens of milliseconds).
 */
const RESET_CPU_MS_PER_STREAM_MAX = 4;
/** The node is quiet when it used less than this much CPU in the last QUIET_WINDOW_MS. */
const QUIET_CPU_MS = 40;
const QUIET_WINDOW_MS = 1_000;
/** ConsumeRequest { offset: 0 } is the empty message; gRPC and Connect streaming frame it the same way. */
const CONSUME_FROM_ZERO = frame(new Uint8Array(0));

async function filledNode(t: TestContext): Promise<NodeProcess> {
  const dir = await tempDir(t);
  // Room for every reset on one connection: this test is about what a reset stream costs, not
  // about the connection limit that cuts off a client resetting more (server-defence-rapid-reset).
  const config = join(dir, "config.json");
  await writeFile(config, JSON.stringify({ limits: { streamResetsPerConnectionMax: 10 * STREAMS } }));
  const node = await startNode(["--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0", "--config", config]);
  cleanup(t, () => stopNode(node));
  const client = grpcTestClient(node.address);
  try {
    for (let first = 0; first < RECORDS; first += BATCH_RECORDS) {
      const values = Array.from({ length: BATCH_RECORDS }, (_, i) => Buffer.from(`record ${first + i}`));
      await client.unary("produceBatch", { values });
    }
  } finally {
    client.close();
  }
  return node;
}

/** Waits until the node has been quiet for a window, then returns its CPU time. */
async function cpuMsOnceQuiet(node: NodeProcess): Promise<number> {
  const samples: Array<{ atMs: number; cpuMs: number }> = [];
  return waitUntil(
    "the node to go quiet",
    () => {
      const now = { atMs: performance.now(), cpuMs: node.cpuMs() };
      samples.push(now);
      const windowStart = samples.find((sample) => sample.atMs >= now.atMs - QUIET_WINDOW_MS)!;
      const windowFull = now.atMs - samples[0]!.atMs >= QUIET_WINDOW_MS;
      return windowFull && now.cpuMs - windowStart.cpuMs < QUIET_CPU_MS ? now.cpuMs : undefined;
    },
    60_000,
  );
}

/** STREAMS ConsumeStream calls from offset 0, each reset right behind its request, all in one write. */
async function resetBehindRequests(t: TestContext, port: number, contentType: string): Promise<void> {
  const connection = new RawHttp2Connection(port);
  cleanup(t, () => connection.destroy());
  const frames: Buffer[] = [];
  for (let stream = 0, streamId = 1; stream < STREAMS; stream++, streamId += 2) {
    frames.push(request(streamId, "/log.v1.Log/ConsumeStream", contentType, CONSUME_FROM_ZERO), rstStream(streamId));
  }
  connection.write(Buffer.concat(frames));
}

/** An HTTP/1.1 Connect ConsumeStream whose connection is cut right after the request. */
async function cutBehindRequest(port: number): Promise<void> {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  socket.write(
    `POST /log.v1.Log/ConsumeStream HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/connect+proto\r\n` +
      `content-length: ${CONSUME_FROM_ZERO.length}\r\n\r\n`,
  );
  socket.end(CONSUME_FROM_ZERO);
  socket.destroy();
}

/** Runs `reset` against a quiet node and checks the CPU it cost the node until the node is quiet again. */
async function assertCheap(t: TestContext, node: NodeProcess, how: string, reset: () => Promise<void>): Promise<void> {
  const cpuBefore = await cpuMsOnceQuiet(node);
  const resetting = reset();
  const cpuMs = (await cpuMsOnceQuiet(node)) - cpuBefore;
  await resetting;
  t.diagnostic(`${how}, ${STREAMS} ConsumeStream calls from offset 0 of ${RECORDS} records: ${cpuMs} ms of node CPU`);
  const boundMs = RESET_CPU_MS_PER_STREAM_MAX * STREAMS;
  assert.ok(cpuMs < boundMs, `${how} cost ${cpuMs} ms of node CPU (bound ${boundMs})`);
}

test("gRPC ConsumeStream calls reset right behind their requests cost the node next to nothing", { timeout: 120_000 }, async (t) => {
  const node = await filledNode(t);
  await assertCheap(t, node, "gRPC, reset behind the request", () => resetBehindRequests(t, node.port, "application/grpc"));
});

test("Connect ConsumeStream calls reset (HTTP/2) or cut off (HTTP/1.1) behind their requests cost the node next to nothing", { timeout: 120_000 }, async (t) => {
  const node = await filledNode(t);
  await assertCheap(t, node, "Connect over HTTP/2, reset behind the request", () => resetBehindRequests(t, node.port, "application/connect+proto"));
  await assertCheap(t, node, "Connect over HTTP/1.1, connection cut behind the request", async () => {
    for (let stream = 0; stream < STREAMS; stream++) await cutBehindRequest(node.port);
  });
});
