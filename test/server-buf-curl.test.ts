// `buf curl` as an outside client (Go's HTTP/2 and protobuf stacks, not Node's): every protocol the
// port speaks, unary and streaming, and the out-of-range status (buf curl exits with code × 8).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { LoghouseServer } from "../src/server/server.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const BUF = fileURLToPath(new URL("../node_modules/.bin/buf", import.meta.url));

interface CurlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function bufCurl(address: string, method: string, data: string, options: { protocol: string; http2?: boolean; extra?: string[] }): Promise<CurlResult> {
  const args = ["curl", "--protocol", options.protocol, "--schema", "proto", "-d", data, ...(options.http2 === false ? [] : ["--http2-prior-knowledge"]), ...(options.extra ?? [])];
  return new Promise((resolve) => {
    execFile(BUF, [...args, `http://${address}/log.v1.Log/${method}`], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) =>
      resolve({ code: error === null ? 0 : Number((error as { code?: unknown }).code), stdout, stderr }),
    );
  });
}

/** Parses buf curl's output: one pretty-printed JSON object per message. */
function messages(stdout: string): Array<Record<string, unknown>> {
  return JSON.parse(`[${stdout.replace(/}\s*{/g, "},{")}]`) as Array<Record<string, unknown>>;
}

const variants = [
  { protocol: "grpc", http2: true },
  { protocol: "connect", http2: true },
  { protocol: "connect", http2: false },
  { protocol: "grpcweb", http2: true },
  { protocol: "grpcweb", http2: false },
];

describe("buf curl", () => {
  let address: string;
  let server: LoghouseServer;
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), "loghouse-buf-"));
    server = await LoghouseServer.start({ dataDir, port: 0 });
    address = `127.0.0.1:${server.address.port}`;
  });
  after(async () => {
    await server.close();
    await rm(dataDir, { recursive: true, force: true });
  });

  for (const variant of variants) {
    test(`${variant.protocol} over HTTP/${variant.http2 ? "2" : "1.1"}: Produce, ProduceBatch, Consume, ConsumeBatch, GetServers, out of range`, async () => {
      const produced = await bufCurl(address, "Produce", JSON.stringify({ record: { value: Buffer.from("hi").toString("base64") } }), variant);
      assert.equal(produced.code, 0, produced.stderr);
      const offset = BigInt((messages(produced.stdout)[0]!.offset as string | undefined) ?? "0");
      const batch = await bufCurl(address, "ProduceBatch", JSON.stringify({ values: ["YQ==", "Yg=="] }), variant);
      assert.equal(messages(batch.stdout)[0]!.count, 2);
      const consumed = messages((await bufCurl(address, "Consume", JSON.stringify({ offset: offset.toString() }), variant)).stdout)[0]!;
      assert.equal((consumed.record as { value: string }).value, "aGk=");
      const read = messages((await bufCurl(address, "ConsumeBatch", JSON.stringify({ offset: offset.toString(), maxRecords: 3 }), variant)).stdout)[0]!;
      assert.deepEqual((read.records as Array<{ value: string }>).map((r) => r.value), ["aGk=", "YQ==", "Yg=="]);
      const servers = messages((await bufCurl(address, "GetServers", "{}", variant)).stdout)[0]!;
      // A node alone: term 0 (the default, so absent in JSON) and no lag behind itself.
      assert.deepEqual(servers.servers, [{ id: "loghouse-0", rpcAddr: address, isLeader: true, isVoter: true, liveness: "LIVENESS_ALIVE", role: "ROLE_VOTER", lag: "0" }]);
      const outside = await bufCurl(address, "Consume", JSON.stringify({ offset: "18446744073709551615" }), variant);
      assert.equal(outside.code, 11 * 8, outside.stderr);
      assert.match(outside.stderr, /offset out of range: 18446744073709551615/);
    });
  }

  test("grpc streaming: ProduceStream from stdin, ConsumeBatchStream until the deadline", async () => {
    const input = ["one", "two", "three"].map((text) => JSON.stringify({ record: { value: Buffer.from(text).toString("base64") } })).join("\n");
    const produced = await new Promise<CurlResult>((resolve) => {
      const child = execFile(BUF, ["curl", "--protocol", "grpc", "--http2-prior-knowledge", "--schema", "proto", "-d", "@-", `http://${address}/log.v1.Log/ProduceStream`], { cwd: ROOT, timeout: 30_000 }, (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number((error as { code?: unknown }).code), stdout, stderr }),
      );
      child.stdin!.end(input);
    });
    assert.equal(produced.code, 0, produced.stderr);
    const offsets = messages(produced.stdout).map((ack) => BigInt((ack.offset as string | undefined) ?? "0"));
    assert.equal(offsets.length, 3);
    assert.deepEqual(offsets, [offsets[0]!, offsets[0]! + 1n, offsets[0]! + 2n]);
    // The stream follows the tail forever; a deadline ends it (DEADLINE_EXCEEDED = 4, exit 32) after the batches.
    const streamed = await bufCurl(address, "ConsumeBatchStream", JSON.stringify({ offset: offsets[0]!.toString() }), { protocol: "grpc", extra: ["--timeout", "1s"] });
    assert.equal(streamed.code, 4 * 8, streamed.stderr);
    const values = messages(streamed.stdout).flatMap((batch) => (batch.records as Array<{ value: string }>).map((r) => Buffer.from(r.value, "base64").toString()));
    assert.deepEqual(values, ["one", "two", "three"]);
  });
});
