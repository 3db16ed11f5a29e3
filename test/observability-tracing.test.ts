// OpenTelemetry traces from real node processes to an OTLP/HTTP receiver in the test: a produce sent
// to a follower with the client's traceparent shows as one trace across two nodes (the follower's
// server span and append, its forward over the peer connection, the leader's append of the forward,
// each the child of the one before), with their names, kinds and attributes; a ProduceStream has one span for the call.
// A node started without an endpoint loads no OpenTelemetry module (seen by a loader hook that
// records every import, which also sees the traced nodes load them).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { fileURLToPath } from "node:url";
import { createClient } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { LoghouseClient } from "../src/client/client.ts";
import { InvalidConfigError } from "../src/errors.ts";
import { Log } from "../src/gen/log/v1/log_pb.ts";
import { silentLogger } from "../src/logger.ts";
import { otlpTracesUrl, startTracing } from "../src/observability/tracing.ts";
import { cleanup } from "./support/cleanup.ts";
import { grpcTestClient, statusOf } from "./support/grpc-log-client.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { startNode, stopNode } from "./support/node-process.ts";
import { ProcessCluster } from "./support/process-cluster.ts";
import { tempDir } from "./support/temp-dir.ts";
import { waitUntil } from "./support/wait-until.ts";

const IMPORT_RECORDER = fileURLToPath(new URL("./support/import-recorder.mjs", import.meta.url));

interface OtlpAttribute {
  readonly key: string;
  readonly value: { readonly stringValue?: string; readonly intValue?: string | number; readonly boolValue?: boolean };
}

interface ReceivedSpan {
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string;
  readonly name: string;
  readonly kind: number;
  readonly attributes: Readonly<Record<string, string | number | boolean | undefined>>;
  /** The service.instance.id of the node that sent it. */
  readonly node: string;
}

/** OTLP/JSON ids are hex; some exporters send base64: both are read as hex. */
function hexId(id: string | undefined): string {
  if (id === undefined || id === "") return "";
  return /^[0-9a-f]+$/.test(id) ? id : Buffer.from(id, "base64").toString("hex");
}

function attributesOf(list: readonly OtlpAttribute[] = []): Record<string, string | number | boolean | undefined> {
  return Object.fromEntries(list.map(({ key, value }) => [key, value.stringValue ?? (value.intValue === undefined ? value.boolValue : Number(value.intValue))]));
}

/** An OTLP/HTTP receiver taking JSON on POST /v1/traces; keeps every span it got. */
async function otlpReceiver(t: TestContext): Promise<{ url: string; spans: ReceivedSpan[] }> {
  const spans: ReceivedSpan[] = [];
  const server = http.createServer((request, response) => {
    let body = "";
    request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    request.on("end", () => {
      if (request.method !== "POST" || request.url !== "/v1/traces" || request.headers["content-type"] !== "application/json") {
        response.writeHead(400).end();
        assert.fail(`unexpected ${request.method} ${request.url} (${request.headers["content-type"]})`);
      }
      const exported = JSON.parse(body) as {
        resourceSpans: { resource: { attributes: OtlpAttribute[] }; scopeSpans: { spans: (Omit<ReceivedSpan, "attributes" | "node"> & { attributes: OtlpAttribute[] })[] }[] }[];
      };
      for (const { resource, scopeSpans } of exported.resourceSpans) {
        const node = String(attributesOf(resource.attributes)["service.instance.id"]);
        for (const span of scopeSpans.flatMap((scope) => scope.spans)) {
          spans.push({ ...span, traceId: hexId(span.traceId), spanId: hexId(span.spanId), parentSpanId: hexId(span.parentSpanId), attributes: attributesOf(span.attributes), node });
        }
      }
      response.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup(t, () => new Promise((resolve) => server.close(resolve)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, spans };
}

/** Sets environment variables for the processes this test starts, restored when it ends. */
function childEnvironment(t: TestContext, variables: Record<string, string>): void {
  for (const [name, value] of Object.entries(variables)) {
    const before = process.env[name];
    process.env[name] = value;
    cleanup(t, () => {
      if (before === undefined) delete process.env[name];
      else process.env[name] = before;
    });
  }
}

const SPAN_KIND_SERVER = 2;
const SPAN_KIND_CLIENT = 3;

test("a produce through a follower is one trace across follower and leader, under the client's traceparent", { timeout: 180_000 }, async (t) => {
  const root = await tempDir(t);
  const receiver = await otlpReceiver(t);
  const importsFile = join(root, "imports.txt");
  // Spans are exported every 200 ms rather than every 5 s, so the test waits less.
  childEnvironment(t, { OTEL_BSP_SCHEDULE_DELAY: "200", LOGHOUSE_IMPORTS_FILE: importsFile, NODE_OPTIONS: `--import ${IMPORT_RECORDER}` });
  const cluster = new ProcessCluster(join(root, "cluster"), undefined, ["--otlp-endpoint", receiver.url]);
  cleanup(t, () => cluster.stopAll());
  await cluster.form(3);
  const leader = await cluster.leader();
  const follower = [1, 2, 3].find((id) => id !== leader)!;

  const traceId = randomBytes(16).toString("hex");
  const clientSpanId = randomBytes(8).toString("hex");
  console.log(`trace ${traceId}, client span ${clientSpanId}`);
  const client = new LoghouseClient(cluster.address(follower), { callHeaders: () => ({ traceparent: `00-${traceId}-${clientSpanId}-01` }) });
  cleanup(t, () => client.close());
  const firstOffset = Number(await client.produceBatch([Buffer.from("a"), Buffer.from("b"), Buffer.from("c")]));

  const inTrace = (): ReceivedSpan[] => receiver.spans.filter((span) => span.traceId === traceId);
  // Each node exports its own spans on its own schedule: wait for all four.
  await waitUntil("four spans of the trace", () => inTrace().length >= 4, 30_000);
  const byParent = (parent: string, name: string, node: number): ReceivedSpan => {
    const found = inTrace().filter((span) => span.parentSpanId === parent && span.name === name && span.node === String(node));
    assert.equal(found.length, 1, `one ${name} on node ${node} under ${parent}: ${JSON.stringify(inTrace(), null, 1)}`);
    return found[0]!;
  };
  const followerCall = byParent(clientSpanId, "log.v1.Log/ProduceBatch", follower);
  assert.equal(followerCall.kind, SPAN_KIND_SERVER);
  assert.deepEqual(
    { system: followerCall.attributes["rpc.system"], service: followerCall.attributes["rpc.service"], method: followerCall.attributes["rpc.method"], records: followerCall.attributes["loghouse.records"] },
    { system: "grpc", service: "log.v1.Log", method: "ProduceBatch", records: 3 },
  );
  const followerAppend = byParent(followerCall.spanId, "loghouse.append", follower);
  assert.equal(followerAppend.attributes["loghouse.records"], 3);
  const forward = byParent(followerAppend.spanId, "loghouse.forward", follower);
  assert.equal(forward.kind, SPAN_KIND_CLIENT);
  assert.equal(forward.attributes["loghouse.leader"], cluster.address(leader));
  const leaderAppend = byParent(forward.spanId, "loghouse.forwarded", leader);
  assert.equal(leaderAppend.kind, SPAN_KIND_SERVER);
  assert.equal(leaderAppend.attributes["loghouse.records"], 3);
  assert.equal(leaderAppend.attributes["loghouse.first_offset"], firstOffset);
  assert.equal(followerAppend.attributes["loghouse.first_offset"], firstOffset);

  // A stream is one span, counting its messages; without a traceparent it starts a trace of its own.
  const grpcClient = grpcTestClient(cluster.address(leader));
  cleanup(t, () => grpcClient.close());
  const call = grpcClient.bidiStream("produceStream");
  for (let i = 0; i < 5; i++) call.write({ record: { value: Buffer.from(`streamed ${i}`) } });
  call.end();
  const acknowledgements: unknown[] = [];
  call.on("data", (acknowledgement: unknown) => acknowledgements.push(acknowledgement));
  assert.equal((await statusOf(call)).code, 0);
  assert.equal(acknowledgements.length, 5);
  const stream = await waitUntil("the ProduceStream span", () => receiver.spans.find((span) => span.name === "log.v1.Log/ProduceStream"), 30_000);
  assert.equal(stream.parentSpanId, "");
  assert.equal(stream.attributes["loghouse.messages"], 5);
  assert.equal(receiver.spans.filter((span) => span.name === "loghouse.append" && span.parentSpanId === stream.spanId).length, 5);

  // The loader hook saw the traced nodes load the exporter: the check below means what it says.
  assert.match(await readFile(importsFile, "utf8"), /^@opentelemetry\/exporter-trace-otlp-http$/m);
});

test("over Connect too, a Produce's server span is the child of the caller's traceparent, and its append of the span", { timeout: 60_000 }, async (t) => {
  const receiver = await otlpReceiver(t);
  const tracer = await startTracing({ tracesUrl: otlpTracesUrl(receiver.url), nodeId: "alone", logger: silentLogger });
  const server = await startLogServer(t, { nodeId: "alone" }, { tracer });
  const traceId = randomBytes(16).toString("hex");
  const clientSpanId = randomBytes(8).toString("hex");
  console.log(`trace ${traceId}, client span ${clientSpanId}`);
  const log = createClient(Log, createConnectTransport({ baseUrl: `http://${addressOf(server)}`, httpVersion: "1.1" }));
  const produced = await log.produce({ record: { value: Buffer.from("over connect") } }, { headers: { traceparent: `00-${traceId}-${clientSpanId}-01` } });
  // Shutting the tracer down sends every span it holds.
  await tracer.shutdown();
  const call = receiver.spans.find((span) => span.traceId === traceId && span.name === "log.v1.Log/Produce");
  assert.ok(call !== undefined, JSON.stringify(receiver.spans));
  assert.equal(call.parentSpanId, clientSpanId);
  assert.equal(call.kind, SPAN_KIND_SERVER);
  assert.equal(call.node, "alone");
  const append = receiver.spans.find((span) => span.parentSpanId === call.spanId);
  assert.equal(append?.name, "loghouse.append");
  assert.equal(append.attributes["loghouse.first_offset"], Number(produced.offset));
});

test("--otlp-endpoint is a base URL (spans go to its /v1/traces) or the traces URL itself; anything else is refused", () => {
  assert.equal(otlpTracesUrl("http://collector:4318"), "http://collector:4318/v1/traces");
  assert.equal(otlpTracesUrl("https://collector:4318/otlp/"), "https://collector:4318/otlp/v1/traces");
  assert.equal(otlpTracesUrl("http://collector:4318/v1/traces"), "http://collector:4318/v1/traces");
  for (const bad of ["collector:4318", "grpc://collector:4317", ""]) {
    assert.throws(() => otlpTracesUrl(bad), (error: unknown) => error instanceof InvalidConfigError && /--otlp-endpoint must be an http/.test(error.message), bad);
  }
});

test("a node without --otlp-endpoint loads no OpenTelemetry module", { timeout: 60_000 }, async (t) => {
  const root = await tempDir(t);
  const importsFile = join(root, "imports.txt");
  const node = await startNode(["--data-dir", join(root, "data"), "--listen", "127.0.0.1:0"], { LOGHOUSE_IMPORTS_FILE: importsFile, NODE_OPTIONS: `--import ${IMPORT_RECORDER}` });
  cleanup(t, () => stopNode(node));
  const client = new LoghouseClient(node.address);
  cleanup(t, () => client.close());
  await client.produce(Buffer.from("untraced"));
  const imports = (await readFile(importsFile, "utf8")).split("\n");
  assert.ok(imports.includes("../server/server.ts") || imports.includes("../server/server.js"), "the recorder saw the node's own modules");
  assert.deepEqual(
    imports.filter((specifier) => specifier.includes("opentelemetry") || specifier.includes("tracing-otlp")),
    [],
  );
});
