// A client that opens two thousand ConsumeStream calls from offset 0 on one connection and never reads
// (it never opens an HTTP/2 flow-control window) gets the connection's answer budget shared among
// them, not a whole stream budget each: the node keeps its memory and answers others at once (Node
// itself may end the connection once its session memory passes maxSessionMemory). Before,
// each stream encoded and held a megabyte of one-record answers and a full read of record objects:
// the node grew past 1.4 GB and a health check waited 19 s. The node is a child process.
import assert from "node:assert/strict";
import { test } from "node:test";
import { startFilledNode } from "./support/filled-node.ts";
import { frame } from "./support/raw-grpc.ts";
import { RawHttp2Connection, request } from "./support/raw-http2.ts";
import { cleanup } from "./support/cleanup.ts";
import { waitUntil } from "./support/wait-until.ts";

const MIB = 1024 * 1024;
const RECORDS = 200_000;
const STREAMS = 2_000;
/**
 * Twice the connection's answer budget (64 MiB) and the node's own baseline, well below what it
 * reached before. The baseline includes a young generation of up to two 64 MiB semi-spaces
 * (bin/loghouse.js): with 32 MiB ones the node peaked at 529-550 MB here, with 64 at 545-579.
 */
const RSS_BYTES_MAX = 650 * MIB;
const HEALTH_MS_MAX = 1_000;
/** The node is quiet when it used less than this much CPU in the last QUIET_WINDOW_MS. */
const QUIET_CPU_MS = 40;
const QUIET_WINDOW_MS = 1_000;

test("two thousand unread ConsumeStreams on one connection share its answer budget", { timeout: 120_000 }, async (t) => {
  const { node, client } = await startFilledNode(t, RECORDS);

  const reader = new RawHttp2Connection(node.port);
  cleanup(t, () => reader.destroy());
  const requests: Buffer[] = [];
  for (let stream = 0, streamId = 1; stream < STREAMS; stream++, streamId += 2) {
    requests.push(request(streamId, "/log.v1.Log/ConsumeStream", "application/grpc", frame(new Uint8Array(0))));
  }
  reader.write(Buffer.concat(requests));

  // Every stream fills its share of the budget and waits; the node then goes quiet.
  let rssBytesMax = 0;
  const samples: Array<{ atMs: number; cpuMs: number }> = [];
  await waitUntil(
    "the node to go quiet with the streams waiting",
    () => {
      rssBytesMax = Math.max(rssBytesMax, node.rssBytes());
      const now = { atMs: performance.now(), cpuMs: node.cpuMs() };
      samples.push(now);
      const windowStart = samples.find((sample) => sample.atMs >= now.atMs - QUIET_WINDOW_MS)!;
      return now.atMs - samples[0]!.atMs >= QUIET_WINDOW_MS && now.cpuMs - windowStart.cpuMs < QUIET_CPU_MS;
    },
    60_000,
  );
  const started = performance.now();
  await client.health.unary("check", { service: "" });
  const healthMs = performance.now() - started;
  t.diagnostic(`${STREAMS} unread streams: node RSS max ${(rssBytesMax / MIB).toFixed(0)} MB; a health check then took ${healthMs.toFixed(1)} ms`);
  assert.ok(rssBytesMax < RSS_BYTES_MAX, `node RSS reached ${(rssBytesMax / MIB).toFixed(0)} MB (bound ${RSS_BYTES_MAX / MIB})`);
  assert.ok(healthMs < HEALTH_MS_MAX, `a health check took ${healthMs.toFixed(1)} ms`);
});
