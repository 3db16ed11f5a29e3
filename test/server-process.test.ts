// What only a running node process shows: SIGKILL in the middle of ingestion loses nothing that was
// acknowledged; SIGTERM drains and exits promptly even with tail streams open; a thousand idle tail
// streams cost (almost) no CPU and all get the next record; and resident memory stays bounded, even
// with a reader that stopped reading.
import * as grpc from "@grpc/grpc-js";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import assert from "node:assert/strict";
import { randomBytes, randomInt } from "node:crypto";
import * as http2 from "node:http2";
import { join } from "node:path";
import { test } from "node:test";
import { LoghouseClient } from "../src/client/client.ts";
import { Log } from "../src/gen/log/v1/log_pb.ts";
import { grpcTestClient, statusOf, take } from "./support/grpc-log-client.ts";
import { startNode, stopNode } from "./support/node-process.ts";
import { frame } from "./support/raw-grpc.ts";
import { tempDir } from "./support/temp-dir.ts";
import { cleanup } from "./support/cleanup.ts";

const MIB = 1024 * 1024;

test("SIGKILL during ingestion loses no acknowledged record (3 kills)", { timeout: 180_000 }, async (t) => {
  const dataDir = join(await tempDir(t), "data");
  const acked = new Map<bigint, string>();
  for (let kill = 0; kill < 3; kill++) {
    const node = await startNode(["--data-dir", dataDir, "--listen", "127.0.0.1:0"]);
    cleanup(t, () => stopNode(node));
    const client = new LoghouseClient(node.address);
    const acksBeforeKill = randomInt(30, 120);
    let acks = 0;
    let killed = false;
    const appendUntilKilled = async (): Promise<void> => {
      while (!killed) {
        const values = Array.from({ length: randomInt(1, 50) }, () => randomBytes(randomInt(0, 200)));
        let first: bigint;
        try {
          first = await client.produceBatch(values);
        } catch {
          return; // the node died under this call: not acknowledged, so no promise was made
        }
        values.forEach((value, i) => acked.set(first + BigInt(i), value.toString("hex")));
        if (++acks === acksBeforeKill && !killed) {
          killed = true;
          node.child.kill("SIGKILL");
        }
      }
    };
    await Promise.all(Array.from({ length: 4 }, appendUntilKilled));
    assert.equal(await node.exited, "SIGKILL");
    client.close();
  }
  const node = await startNode(["--data-dir", dataDir, "--listen", "127.0.0.1:0"]);
  cleanup(t, () => stopNode(node));
  const client = new LoghouseClient(node.address);
  cleanup(t, () => client.close());
  const stored = new Map<bigint, string>();
  for await (const record of client.consume({ from: 0n })) stored.set(record.offset, Buffer.from(record.value).toString("hex"));
  assert.ok(acked.size > 0);
  for (const [offset, value] of acked) assert.equal(stored.get(offset), value, `acknowledged record ${offset} after 3 kills`);
});

test("SIGTERM drains and exits within seconds with tail streams open; streams end UNAVAILABLE", { timeout: 60_000 }, async (t) => {
  const dataDir = join(await tempDir(t), "data");
  const node = await startNode(["--data-dir", dataDir, "--listen", "127.0.0.1:0"]);
  cleanup(t, () => stopNode(node));
  const client = grpcTestClient(node.address);
  cleanup(t, () => client.close());
  await client.unary("produce", { record: { value: Buffer.from("before") } });
  const tails = Array.from({ length: 100 }, () => client.serverStream("consumeStream", { offset: 0n }));
  const statuses = tails.map(statusOf);
  await Promise.all(tails.map((call) => take(call, 1)));
  const abort = new AbortController();
  const connect = createClient(Log, createConnectTransport({ baseUrl: `http://${node.address}`, httpVersion: "1.1" }));
  const browserLike = (async () => {
    for await (const _ of connect.consumeStream({ offset: 0n }, { signal: abort.signal }));
  })().catch((error: unknown) => error);
  const watch = client.health.serverStream("watch", { service: "" });
  const watchStatus = statusOf(watch);
  await take(watch, 1);

  const started = performance.now();
  node.child.kill("SIGTERM");
  assert.equal(await node.exited, 0);
  const seconds = (performance.now() - started) / 1000;
  assert.ok(seconds < 5, `exited after ${seconds.toFixed(1)} s`);
  for (const status of await Promise.all(statuses)) assert.equal(status.code, grpc.status.UNAVAILABLE, status.details);
  assert.equal((await watchStatus).code, grpc.status.UNAVAILABLE);
  assert.match(String(await browserLike), /shutting down|unavailable/i);
  assert.ok(node.lines.some((line) => line.msg === "stopped"));

  const again = await startNode(["--data-dir", dataDir, "--listen", "127.0.0.1:0"]);
  cleanup(t, () => stopNode(again));
  const reopened = grpcTestClient(again.address);
  cleanup(t, () => reopened.close());
  assert.equal(Buffer.from((await reopened.unary("consume", { offset: 0n })).record.value).toString(), "before");
});

test("1,000 idle tail streams cost almost no CPU, all get the next record, and memory stays under 400 MB", { timeout: 120_000 }, async (t) => {
  const node = await startNode(["--data-dir", join(await tempDir(t), "data"), "--listen", "127.0.0.1:0"]);
  cleanup(t, () => stopNode(node));
  const client = grpcTestClient(node.address, true);
  cleanup(t, () => client.close());
  const streams = Array.from({ length: 1000 }, () => client.serverStream("consumeStream", { offset: 0n }));
  const statuses = streams.map(statusOf);
  const first = Promise.all(streams.map((call) => take(call, 1)));
  await client.unary("produce", { record: { value: Buffer.from("first") } });
  await first; // every stream is open and waiting at the tail

  const cpuBefore = node.cpuMs();
  const idleStarted = performance.now();
  await new Promise<void>((resolve) => setTimeout(resolve, 1500).unref()); // a measured idle period, not a wait for a condition
  const idleMs = performance.now() - idleStarted;
  const cpuIdle = node.cpuMs() - cpuBefore;
  assert.ok(cpuIdle <= 0.03 * idleMs, `1,000 idle streams used ${cpuIdle} ms of CPU in ${idleMs.toFixed(0)} ms`);

  const next = Promise.all(streams.map((call) => take(call, 1)));
  await client.unary("produce", { record: { value: Buffer.from("second") } });
  for (const [message] of await next) assert.equal(Buffer.from(message.record.value).toString(), "second");
  const rss = node.rssBytes();
  assert.ok(rss < 400 * MIB, `RSS with 1,000 streams is ${(rss / MIB).toFixed(0)} MB`);
  t.diagnostic(`idle CPU ${cpuIdle} ms in ${idleMs.toFixed(0)} ms; RSS ${(rss / MIB).toFixed(0)} MB with 1,000 tail streams`);
  for (const call of streams) call.cancel();
  await Promise.all(statuses);
});

test("a reader that stops reading does not raise the node's memory", { timeout: 120_000 }, async (t) => {
  const node = await startNode(["--data-dir", join(await tempDir(t), "data"), "--listen", "127.0.0.1:0"]);
  cleanup(t, () => stopNode(node));
  const client = new LoghouseClient(node.address);
  cleanup(t, () => client.close());
  const batch = Array.from({ length: 1000 }, () => Buffer.alloc(1000, 1));
  const ingest = async (megabytes: number): Promise<void> => {
    for (let i = 0; i < megabytes; i++) await client.produceBatch(batch);
  };
  await ingest(100);
  const rssWithoutReader = node.rssBytes();

  const session = http2.connect(`http://${node.address}`);
  cleanup(t, () => session.destroy()); // its streams never end: a graceful close would wait forever
  for (const path of ["/log.v1.Log/ConsumeStream", "/log.v1.Log/ConsumeBatchStream"]) {
    const stalled = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    stalled.end(frame(Buffer.alloc(0)));
    stalled.pause(); // never read: only flow control stands between the node and unbounded buffering
  }
  await ingest(100);
  const rssWithStalledReaders = node.rssBytes();
  t.diagnostic(`RSS ${(rssWithoutReader / MIB).toFixed(0)} MB after 100 MB; ${(rssWithStalledReaders / MIB).toFixed(0)} MB after 100 MB more with 2 stalled readers`);
  assert.ok(rssWithStalledReaders < 400 * MIB);
  assert.ok(rssWithStalledReaders - rssWithoutReader < 64 * MIB, "stalled readers held back by flow control, not buffered");
});
