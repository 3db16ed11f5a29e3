// A node's /metrics scraped by a real Prometheus (Debian's /usr/bin/prometheus) during a produce
// burst, its /healthz and /readyz probes over HTTP/1.1 and HTTP/2, in plaintext and with TLS, and
// refusals counted by reason (anonymous with an ACL, a TLS client certificate that does not verify,
// a failed TLS handshake, past connectionsMax, past streamsMax).
// Without Prometheus installed, the scrape test says so in its name and checks the exposition text
// itself: never a silent pass.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { request as httpRequest, type IncomingMessage } from "node:http";
import * as http2 from "node:http2";
import { connect as tcpConnect, type Socket } from "node:net";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import * as tls from "node:tls";
import { LoghouseClient } from "../src/client/client.ts";
import { PEER_ALPN } from "../src/security/peer-identity.ts";
import { LoghouseServer } from "../src/server/server.ts";
import { cleanup } from "./support/cleanup.ts";
import { devCerts } from "./support/dev-certs.ts";
import { freePort } from "./support/free-port.ts";
import { httpGet, sampleValue } from "./support/http-get.ts";
import { startNode, stopNode, type NodeProcess } from "./support/node-process.ts";
import { tempDir } from "./support/temp-dir.ts";
import { frame } from "./support/raw-grpc.ts";
import { waitUntil, waitUntilAsync } from "./support/wait-until.ts";

const PROMETHEUS = "/usr/bin/prometheus";
const BATCHES = 20;
const BATCH_RECORDS = 50;
const SINGLE_PRODUCES = 10;

async function startPlainNode(t: Parameters<typeof cleanup>[0]): Promise<NodeProcess> {
  const dir = await tempDir(t);
  const node = await startNode(["--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0"]);
  cleanup(t, () => stopNode(node));
  return node;
}

/** Batches and single records through the real client, then a read of all of them; returns the records appended. */
async function produceBurst(t: Parameters<typeof cleanup>[0], address: string): Promise<number> {
  const client = new LoghouseClient(address);
  cleanup(t, () => client.close());
  const value = new Uint8Array(100).fill(7);
  await Promise.all(Array.from({ length: BATCHES }, () => client.produceBatch(Array.from({ length: BATCH_RECORDS }, () => value))));
  for (let i = 0; i < SINGLE_PRODUCES; i++) await client.produce(value);
  const total = BATCHES * BATCH_RECORDS + SINGLE_PRODUCES;
  let read = 0;
  while (read < total) read += (await client.readBatch(read)).records.length;
  return total;
}

/** The value of an instant query's single sample, or undefined when Prometheus has none (yet). */
async function promQuery(prometheusPort: number, query: string): Promise<number | undefined> {
  const answer = await httpGet(`http://127.0.0.1:${prometheusPort}/api/v1/query?query=${encodeURIComponent(query)}`).catch(() => undefined);
  if (answer === undefined || answer.status !== 200) return undefined;
  const parsed = JSON.parse(answer.body) as { data: { result: Array<{ value: [number, string] }> } };
  const [sample] = parsed.data.result;
  return sample === undefined ? undefined : Number(sample.value[1]);
}

async function startPrometheus(t: Parameters<typeof cleanup>[0], target: string): Promise<number> {
  const dir = await tempDir(t);
  const config = join(dir, "prometheus.yml");
  await writeFile(
    config,
    ["global:", "  scrape_interval: 500ms", "  scrape_timeout: 400ms", "scrape_configs:", "  - job_name: loghouse", "    static_configs:", `      - targets: ["${target}"]`, ""].join("\n"),
  );
  const port = await freePort();
  const prometheus = spawn(PROMETHEUS, [`--config.file=${config}`, `--storage.tsdb.path=${join(dir, "tsdb")}`, `--web.listen-address=127.0.0.1:${port}`, "--log.level=warn"], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  prometheus.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise((resolve) => prometheus.once("exit", resolve));
  cleanup(t, async () => {
    if (prometheus.exitCode === null) prometheus.kill("SIGKILL");
    await exited;
  });
  await waitUntilAsync(`Prometheus to scrape the node (stderr: ${stderr})`, async () => (await promQuery(port, 'up{job="loghouse"}')) === 1, 30_000);
  return port;
}

test(existsSync(PROMETHEUS) ? "Prometheus scrapes /metrics during a produce burst: counters and histograms move" : "skipped-for-prometheus (not installed): the /metrics exposition moves during a produce burst", async (t) => {
  const node = await startPlainNode(t);
  const prometheusPort = existsSync(PROMETHEUS) ? await startPrometheus(t, node.address) : undefined;
  const appended = await produceBurst(t, node.address);
  const wanted: Array<[string, number]> = [
    ["loghouse_records_appended_total", appended],
    ["loghouse_records_read_total", appended],
    ['loghouse_rpc_requests_total{method="/log.v1.Log/ProduceBatch",code="OK"}', BATCHES],
    ['loghouse_rpc_requests_total{method="/log.v1.Log/Produce",code="OK"}', SINGLE_PRODUCES],
    ['loghouse_rpc_duration_seconds_count{method="/log.v1.Log/ProduceBatch"}', BATCHES],
    ["loghouse_fsync_duration_seconds_count", 1],
    ["loghouse_commit_batch_records_count", 1],
    ["loghouse_log_next_offset", appended],
    ["loghouse_log_segments", 1],
  ];
  if (prometheusPort === undefined) {
    t.diagnostic(`${PROMETHEUS} is absent: checking the exposition text directly`);
    const { body, contentType } = await httpGet(`http://${node.address}/metrics`);
    assert.match(contentType ?? "", /^text\/plain; version=0\.0\.4/);
    for (const [query, least] of wanted) {
      const [, name, labels] = /^([^{]+)(?:\{(.*)\})?$/.exec(query)!;
      const labelMap = Object.fromEntries((labels ?? "").split(",").filter(Boolean).map((pair) => pair.split("=").map((part) => part.replaceAll('"', "")) as [string, string]));
      assert.ok((sampleValue(body, name!, labelMap) ?? -1) >= least, `${query} >= ${least}`);
    }
    return;
  }
  for (const [query, least] of wanted) {
    const value = await waitUntilAsync(`Prometheus to see ${query} >= ${least}`, async () => {
      const seen = await promQuery(prometheusPort, query);
      return seen !== undefined && seen >= least ? seen : undefined;
    }, 20_000);
    t.diagnostic(`${query} = ${value}`);
  }
  // A rate over the burst, as a dashboard would draw it.
  const rate = await promQuery(prometheusPort, "sum(increase(loghouse_records_appended_total[1m]))");
  assert.ok(rate !== undefined && rate > 0, `increase of appended records over a minute: ${rate}`);
});

test("/healthz and /readyz answer over HTTP/1.1 and HTTP/2; other paths are 404", async (t) => {
  const node = await startPlainNode(t);
  for (const http2 of [false, true]) {
    const health = await httpGet(`http://${node.address}/healthz`, { http2 });
    assert.deepEqual([health.status, health.body], [200, "ok\n"], `healthz http2=${http2}`);
    const ready = await httpGet(`http://${node.address}/readyz`, { http2 });
    assert.deepEqual([ready.status, ready.body], [200, "ready\n"], `readyz http2=${http2}`);
    const metrics = await httpGet(`http://${node.address}/metrics`, { http2 });
    assert.equal(metrics.status, 200);
    assert.ok(sampleValue(metrics.body, "loghouse_connections")! >= 1, "the scrape's own connection is counted");
    assert.equal((await httpGet(`http://${node.address}/nothing-here`, { http2 })).status, 404);
  }
});

test("with TLS, an ACL and no client certificate, the probes and /metrics still answer (they carry no credentials); refused calls and closed TLS connections are counted by why", async (t) => {
  const certs = await devCerts(t, ["1"]);
  const dir = await tempDir(t);
  const node = await startNode([
    "--data-dir", join(dir, "data"), "--listen", "127.0.0.1:0",
    "--tls-cert", certs.path("node-1.pem"), "--tls-key", certs.path("node-1-key.pem"), "--tls-ca", certs.path("ca.pem"),
    "--acl-model", certs.path("model.conf"), "--acl-policy", certs.path("policy.csv"),
  ]);
  cleanup(t, () => stopNode(node));
  const ca = await certs.read("ca.pem");
  for (const http2 of [false, true]) {
    assert.equal((await httpGet(`https://localhost:${node.port}/healthz`, { http2, ca })).status, 200, `healthz http2=${http2}`);
    assert.equal((await httpGet(`https://localhost:${node.port}/readyz`, { http2, ca })).status, 200, `readyz http2=${http2}`);
    assert.equal((await httpGet(`https://localhost:${node.port}/metrics`, { http2, ca })).status, 200, `metrics http2=${http2}`);
  }
  // An anonymous produce is refused, and the refusal counted by its reason.
  const anonymous = new LoghouseClient(`localhost:${node.port}`, { tls: { ca } });
  cleanup(t, () => anonymous.close());
  await assert.rejects(anonymous.produce(new Uint8Array([1])), /UNAUTHENTICATED|needs a client certificate/);
  const { body } = await httpGet(`https://localhost:${node.port}/metrics`, { ca });
  assert.equal(sampleValue(body, "loghouse_rejected_calls_total", { reason: "unauthenticated" }), 1);
  assert.equal(sampleValue(body, "loghouse_rpc_requests_total", { method: "/log.v1.Log/Produce", code: "UNAUTHENTICATED" }), 1);

  // TLS connections the node closes are counted by why: a client certificate from another CA, a
  // peer's connection (the Raft protocol's ALPN) without a certificate, and a client that does not
  // trust the node's certificate (its handshake fails).
  const strangers = await devCerts(t);
  const closed = async (options: tls.ConnectionOptions): Promise<void> => {
    let done = false;
    const socket = tls.connect({ host: "127.0.0.1", port: node.port, servername: "localhost", ALPNProtocols: ["h2"], ...options });
    socket.on("error", () => undefined);
    socket.once("close", () => (done = true));
    cleanup(t, () => socket.destroy());
    await waitUntil("the TLS connection to be closed", () => done);
  };
  await closed({ ca, cert: await strangers.read("root-client.pem"), key: await strangers.read("root-client-key.pem") });
  await closed({ ca, ALPNProtocols: [PEER_ALPN] });
  await closed({ ca: await strangers.read("ca.pem") });
  const refusals = async (): Promise<[number | undefined, number | undefined]> => {
    const text = (await httpGet(`https://localhost:${node.port}/metrics`, { ca })).body;
    return [sampleValue(text, "loghouse_rejected_calls_total", { reason: "certificate_refused" }), sampleValue(text, "loghouse_rejected_calls_total", { reason: "tls_handshake_failed" })];
  };
  await waitUntilAsync("both refusals counted", async () => {
    const [certificate, handshake] = await refusals();
    return certificate === 2 && handshake === 1;
  });
});

/** A node in this process with `limits`, for tests that read its registry directly. */
async function startServerWith(t: Parameters<typeof cleanup>[0], limits: { connectionsMax?: number; streamsMax?: number; streamsPerConnectionMax?: number }): Promise<LoghouseServer> {
  const server = await LoghouseServer.start({ dataDir: join(await tempDir(t), "data"), port: 0, limits });
  cleanup(t, () => server.close());
  return server;
}

async function exposition(server: LoghouseServer): Promise<string> {
  return (await server.metrics.exposition()).body;
}

test("a connection past connectionsMax is counted as rejected: connection_limit", async (t) => {
  const server = await startServerWith(t, { connectionsMax: 1 });
  const open = (): Promise<Socket> =>
    new Promise((resolve, reject) => {
      const socket = tcpConnect(server.address.port, "127.0.0.1", () => resolve(socket));
      socket.once("error", reject);
      cleanup(t, () => socket.destroy());
    });
  await open();
  await waitUntilAsync("the first connection counted", async () => sampleValue(await exposition(server), "loghouse_connections") === 1);
  const second = await open();
  await new Promise((resolve) => second.once("close", resolve));
  const text = await exposition(server);
  assert.equal(sampleValue(text, "loghouse_rejected_calls_total", { reason: "connection_limit" }), 1);
  assert.equal(sampleValue(text, "loghouse_connections"), 1);
});

test("a call past streamsMax is refused and counted as rejected: too_many_streams; loghouse_streams counts the open one", async (t) => {
  const server = await startServerWith(t, { streamsMax: 1, streamsPerConnectionMax: 1 });
  // Two connections: the limit is the node's, over all of them.
  const call = (path: string): http2.ClientHttp2Stream => {
    const session = http2.connect(`http://127.0.0.1:${server.address.port}`);
    cleanup(t, () => session.destroy());
    const stream = session.request({ ":method": "POST", ":path": path, "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => undefined);
    stream.end(frame(new Uint8Array(0)));
    return stream;
  };
  // A ConsumeStream from offset 0 of an empty log waits for the first record, holding its stream.
  call("/log.v1.Log/ConsumeStream");
  await waitUntil("the held stream", () => server.streamsOpen === 1);
  const refused = call("/log.v1.Log/GetOffsets");
  const status = await new Promise<string | undefined>((resolve) => {
    refused.once("response", (headers) => resolve(headers["grpc-status"] as string | undefined));
    refused.once("trailers", (trailers) => resolve(trailers["grpc-status"] as string | undefined));
  });
  assert.equal(status, "8", "RESOURCE_EXHAUSTED");
  const text = await exposition(server);
  assert.equal(sampleValue(text, "loghouse_rejected_calls_total", { reason: "too_many_streams" }), 1);
  assert.equal(sampleValue(text, "loghouse_streams"), 1);
});

test("a Connect stream the client closes over HTTP/1.1 is counted as CANCELLED, not INTERNAL", async (t) => {
  const server = await startServerWith(t, {});
  const client = new LoghouseClient(`127.0.0.1:${server.address.port}`);
  cleanup(t, () => client.close());
  await client.produce(Buffer.from("one"));
  // ConsumeStream over HTTP/1.1 (Connect, JSON): it sends the record, then waits for the next.
  const body = Buffer.from(JSON.stringify({ offset: "0" }));
  const envelope = Buffer.concat([Buffer.from([0, 0, 0, 0, body.length]), body]);
  const request = httpRequest({ host: "127.0.0.1", port: server.address.port, method: "POST", path: "/log.v1.Log/ConsumeStream", headers: { "content-type": "application/connect+json" } });
  request.on("error", () => undefined);
  request.end(envelope);
  const response = await new Promise<IncomingMessage>((resolve) => request.once("response", resolve));
  await new Promise((resolve) => response.once("data", resolve));
  // The client goes away (a browser tab closed, curl --max-time).
  request.destroy();
  await waitUntilAsync("the stream counted as ended", async () => sampleValue(await exposition(server), "loghouse_rpc_requests_total", { method: "/log.v1.Log/ConsumeStream", code: "CANCELLED" }) === 1);
  assert.equal(sampleValue(await exposition(server), "loghouse_rpc_requests_total", { method: "/log.v1.Log/ConsumeStream", code: "INTERNAL" }), undefined);
});
