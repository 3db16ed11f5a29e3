// The same port from connect-es clients: the Connect protocol (binary and JSON) over HTTP/1.1 and
// HTTP/2, gRPC-Web over HTTP/1.1 and HTTP/2, and gRPC (which the server's fast path answers) from
// connect's own gRPC transport. Browsers speak the HTTP/1.1 variants; bidi streaming needs HTTP/2.
import { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport, createGrpcWebTransport } from "@connectrpc/connect-node";
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { Health } from "../src/gen/grpc/health/v1/health_pb.ts";
import { Log } from "../src/gen/log/v1/log_pb.ts";
import { LoghouseServer } from "../src/server/server.ts";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const U64_MAX = 2n ** 64n - 1n;

interface Variant {
  readonly name: string;
  readonly transport: (baseUrl: string) => Transport;
  readonly bidi: boolean;
}

const variants: Variant[] = [
  { name: "Connect binary over HTTP/1.1", transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: true }), bidi: false },
  { name: "Connect JSON over HTTP/1.1", transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "1.1", useBinaryFormat: false }), bidi: false },
  { name: "Connect binary over HTTP/2", transport: (baseUrl) => createConnectTransport({ baseUrl, httpVersion: "2", useBinaryFormat: true }), bidi: true },
  { name: "gRPC-Web over HTTP/1.1", transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" }), bidi: false },
  { name: "gRPC-Web over HTTP/2", transport: (baseUrl) => createGrpcWebTransport({ baseUrl, httpVersion: "2" }), bidi: true },
  { name: "gRPC from connect-node (HTTP/2)", transport: (baseUrl) => createGrpcTransport({ baseUrl }), bidi: true },
  { name: "gRPC JSON from connect-node (HTTP/2)", transport: (baseUrl) => createGrpcTransport({ baseUrl, useBinaryFormat: false }), bidi: true },
];

async function expectCode(promise: Promise<unknown>, code: Code, message?: string): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    const connectError = ConnectError.from(error);
    assert.equal(connectError.code, code, `expected ${Code[code]}, got ${Code[connectError.code]}: ${connectError.rawMessage}`);
    if (message !== undefined) assert.equal(connectError.rawMessage, message);
    return connectError;
  }
  assert.fail(`expected ${Code[code]}`);
}

const text = (value: Uint8Array): string => Buffer.from(value).toString();

for (const variant of variants) {
  describe(variant.name, () => {
    let server: LoghouseServer;
    let dataDir: string;
    let log: Client<typeof Log>;
    let health: Client<typeof Health>;

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), "loghouse-connect-"));
      server = await LoghouseServer.start({ dataDir, port: 0 });
      const transport = variant.transport(`http://127.0.0.1:${server.address.port}`);
      log = createClient(Log, transport);
      health = createClient(Health, transport);
    });
    after(async () => {
      await server.close();
      await rm(dataDir, { recursive: true, force: true });
    });

    test("unary RPCs: Produce, Consume, ProduceBatch, ConsumeBatch, GetServers, GetOffsets, OffsetForTimestamp, Health", async () => {
      assert.equal((await log.produce({ record: { value: Buffer.from("hello") } })).offset, 0n);
      const batch = await log.produceBatch({ values: [Buffer.from("a"), Buffer.from("b"), Buffer.from("c")] });
      assert.deepEqual([batch.firstOffset, batch.count], [1n, 3]);
      const consumed = await log.consume({ offset: 2n });
      assert.equal(text(consumed.record!.value), "b");
      assert.equal(consumed.record!.offset, 2n);
      const read = await log.consumeBatch({ offset: 0n, maxRecords: 10 });
      assert.deepEqual(read.records.map((r) => text(r.value)), ["hello", "a", "b", "c"]);
      assert.equal(read.nextOffset, 4n);
      const servers = await log.getServers({});
      assert.deepEqual(servers.servers.map((s) => [s.rpcAddr, s.isLeader]), [[`127.0.0.1:${server.address.port}`, true]]);
      assert.deepEqual([(await log.getOffsets({})).lowestOffset, (await log.getOffsets({})).endOffset], [0n, 4n]);
      const found = await log.offsetForTimestamp({ timestampMs: consumed.record!.timestampMs });
      assert.ok(found.found && found.offset <= 2n);
      assert.equal((await health.check({ service: "" })).status, 1);
    });

    test("out of range is OUT_OF_RANGE with the offset in the message, up to 2^64-1", async () => {
      for (const offset of [1000n, U64_MAX]) {
        const error = await expectCode(log.consume({ offset }), Code.OutOfRange, `offset out of range: ${offset}`);
        assert.equal(error.metadata.get("loghouse-error-code"), "OFFSET_OUT_OF_RANGE");
      }
      await expectCode(log.consumeBatch({ offset: U64_MAX }), Code.OutOfRange);
    });

    test("ConsumeStream sends what exists, follows the tail, and stops on abort", async () => {
      const abort = new AbortController();
      const start = (await log.getOffsets({})).endOffset;
      await log.produce({ record: { value: Buffer.from("first") } });
      const seen: string[] = [];
      const reading = (async () => {
        for await (const response of log.consumeStream({ offset: start }, { signal: abort.signal })) {
          seen.push(text(response.record!.value));
          if (seen.length === 1) await log.produce({ record: { value: Buffer.from("second") } });
          if (seen.length === 2) abort.abort();
        }
      })();
      await expectCode(reading, Code.Canceled);
      assert.deepEqual(seen, ["first", "second"]);
    });

    test("ConsumeBatchStream sends batches and follows the tail", async () => {
      const abort = new AbortController();
      const start = (await log.getOffsets({})).endOffset;
      await log.produceBatch({ values: [Buffer.from("x"), Buffer.from("y")] });
      const batches: string[][] = [];
      const reading = (async () => {
        for await (const response of log.consumeBatchStream({ offset: start }, { signal: abort.signal })) {
          batches.push(response.records.map((r) => text(r.value)));
          if (batches.length === 1) await log.produce({ record: { value: Buffer.from("z") } });
          if (batches.length === 2) abort.abort();
        }
      })();
      await expectCode(reading, Code.Canceled);
      assert.deepEqual(batches, [["x", "y"], ["z"]]);
    });

    if (variant.bidi) {
      test("ProduceStream answers every record in order", async () => {
        const start = (await log.getOffsets({})).endOffset;
        async function* records() {
          for (let i = 0; i < 50; i++) yield { record: { value: Buffer.from(`s${i}`) } };
        }
        const offsets: bigint[] = [];
        for await (const ack of log.produceStream(records())) offsets.push(ack.offset);
        assert.deepEqual(offsets, Array.from({ length: 50 }, (_, i) => start + BigInt(i)));
      });
    }
  });
}

test("Connect JSON with a field the message does not have is INVALID_ARGUMENT, not a read from offset 0", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "loghouse-connect-"));
  const server = await LoghouseServer.start({ dataDir, port: 0 });
  try {
    const post = (path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${server.address.port}/log.v1.Log/${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    assert.equal((await post("Produce", { record: { value: Buffer.from("a").toString("base64") } })).status, 200);
    const misspelt = await post("Consume", { offsett: "9" });
    assert.equal(misspelt.status, 400);
    const answer = (await misspelt.json()) as { code: string; message: string };
    assert.equal(answer.code, "invalid_argument", JSON.stringify(answer));
    assert.match(answer.message, /offsett/);
    assert.equal((await post("Consume", { offset: "0" })).status, 200);
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test("other origins may call the RPCs, not read the node's own pages: /metrics, /readyz and the console carry no CORS headers", async () => {
  const dataDir = await mkdtemp(join(tmpdir(), "loghouse-connect-"));
  const server = await LoghouseServer.start({ dataDir, port: 0 });
  try {
    const base = `http://127.0.0.1:${server.address.port}`;
    const origin = { origin: "http://elsewhere.test" };
    const rpc = await fetch(`${base}/log.v1.Log/GetOffsets`, { method: "POST", headers: { ...origin, "content-type": "application/json" }, body: "{}" });
    assert.equal(rpc.headers.get("access-control-allow-origin"), "*");
    const preflight = await fetch(`${base}/log.v1.Log/GetOffsets`, { method: "OPTIONS", headers: { ...origin, "access-control-request-method": "POST" } });
    assert.equal(preflight.status, 204);
    for (const path of ["/metrics", "/readyz", "/console/"]) {
      const page = await fetch(`${base}${path}`, { headers: origin });
      await page.arrayBuffer();
      assert.equal(page.headers.get("access-control-allow-origin"), null, path);
    }
  } finally {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  }
});
