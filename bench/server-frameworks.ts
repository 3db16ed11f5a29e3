// Which RPC framework serves the hot paths: grpc-js against connect-node (HTTP/2, gRPC protocol),
// each in its own child process over the same storage log, driven by the same grpc-js client.
// For each trial the server reports the CPU time it spent, so "µs of server CPU per message" can
// be read beside the rate. This measurement chose the serving architecture (see src/server/).
//
//   node --import tsx bench/server-frameworks.ts [--records 20000]
//
// Back-of-the-envelope: DESIGN.md §3 expects ≈ 150 µs (grpc-js) to 1 ms (connect) of server CPU per
// unary call and ≈ 45-60 µs per stream message; the disk adds ≈ 0.4 ms of fsync to a unary produce.
import { create } from "@bufbuild/protobuf";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import {
  ConsumeBatchResponseSchema,
  ConsumeResponseSchema,
  Log as LogService,
  ProduceResponseSchema,
  type ConsumeBatchRequest,
  type ConsumeRequest,
  type ProduceRequest,
} from "../src/gen/log/v1/log_pb.js";
import { grpcServiceDefinition } from "../src/client/grpc-definition.ts";
import { exitOnHelp } from "./support/usage.ts";
import { LoghouseServer } from "../src/server/server.ts";
import { Log } from "../src/storage/index.ts";
import { flag, formatRate, percentile, printTable } from "./support/stats.ts";

type Framework = "grpc-js" | "connect-node" | "loghouse";

// ---------------------------------------------------------------- server side (child process)

async function* consumeFrom(log: Log, offset: number, signal: AbortSignal): AsyncGenerator<ReturnType<typeof create<typeof ConsumeResponseSchema>>> {
  for (let at = offset; ; ) {
    if (at >= log.nextOffset) await log.waitFor(at, signal);
    for (const record of log.readRange(at, { countMax: 256 })) {
      yield create(ConsumeResponseSchema, { record: { value: record.value, offset: BigInt(record.offset), timestampMs: BigInt(record.timestampMs) } });
      at = record.offset + 1;
    }
  }
}

function consumeBatch(log: Log, request: ConsumeBatchRequest) {
  const records = log.readRange(request.offset, { countMax: request.maxRecords || 1000, bytesMax: request.maxBytes || 1 << 20 });
  return create(ConsumeBatchResponseSchema, {
    records: records.map((r) => ({ value: r.value, offset: BigInt(r.offset), timestampMs: BigInt(r.timestampMs) })),
    nextOffset: request.offset + BigInt(records.length),
    endOffset: BigInt(log.nextOffset),
  });
}

async function serveGrpcJs(log: Log): Promise<number> {
  const server = new grpc.Server();
  server.addService(grpcServiceDefinition(LogService, false), {
    produce: (call: grpc.ServerUnaryCall<ProduceRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      log.append([call.request.record?.value ?? new Uint8Array()]).then(
        (offset) => callback(null, create(ProduceResponseSchema, { offset: BigInt(offset) })),
        (error: Error) => callback(error),
      );
    },
    produceStream: (call: grpc.ServerDuplexStream<ProduceRequest, unknown>) => {
      let tail = Promise.resolve();
      call.on("data", (request: ProduceRequest) => {
        const appended = log.append([request.record?.value ?? new Uint8Array()]);
        tail = tail.then(() => appended).then((offset) => {
          call.write(create(ProduceResponseSchema, { offset: BigInt(offset) }));
        });
      });
      call.on("end", () => void tail.then(() => call.end()));
    },
    consumeStream: (call: grpc.ServerWritableStream<ConsumeRequest, unknown>) => {
      const abort = new AbortController();
      call.on("cancelled", () => abort.abort());
      void (async () => {
        try {
          for await (const response of consumeFrom(log, Number(call.request.offset), abort.signal)) {
            if (!call.write(response)) await new Promise((resolve) => call.once("drain", resolve));
          }
        } catch {
          call.end();
        }
      })();
    },
    consumeBatch: (call: grpc.ServerUnaryCall<ConsumeBatchRequest, unknown>, callback: grpc.sendUnaryData<unknown>) => {
      callback(null, consumeBatch(log, call.request));
    },
  });
  return new Promise((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
  );
}

async function serveConnect(log: Log): Promise<number> {
  const routes = (router: ConnectRouter): void => {
    router.service(LogService, {
      produce: async (request) => ({ offset: BigInt(await log.append([request.record?.value ?? new Uint8Array()])) }),
      async *produceStream(requests) {
        const acks: Promise<number>[] = [];
        let done = false;
        let wake: (() => void) | undefined;
        void (async () => {
          for await (const request of requests) {
            acks.push(log.append([request.record?.value ?? new Uint8Array()]));
            wake?.();
          }
          done = true;
          wake?.();
        })();
        for (;;) {
          if (acks.length === 0) {
            if (done) return;
            await new Promise<void>((resolve) => (wake = resolve));
            continue;
          }
          yield { offset: BigInt(await acks.shift()!) };
        }
      },
      async *consumeStream(request, context: HandlerContext) {
        yield* consumeFrom(log, Number(request.offset), context.signal);
      },
      consumeBatch: (request) => consumeBatch(log, request),
    });
  };
  const server = http2.createServer(connectNodeAdapter({ routes }));
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve((server.address() as { port: number }).port)));
}

async function serve(framework: Framework): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "loghouse-frameworks-"));
  let log: Log;
  let port: number;
  if (framework === "loghouse") {
    const server = await LoghouseServer.start({ dataDir: dir, port: 0 });
    log = server.storage!;
    port = server.address.port;
  } else {
    log = await Log.open(dir);
    port = framework === "grpc-js" ? await serveGrpcJs(log) : await serveConnect(log);
  }
  console.log(`port ${port}`);
  // The parent asks for the CPU time used so far with a line on stdin; "exit" ends the server.
  for await (const line of createInterface({ input: process.stdin })) {
    if (line === "exit") break;
    const usage = process.cpuUsage();
    console.log(`cpu ${usage.user + usage.system}`);
  }
  await log.close();
  rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}

// ---------------------------------------------------------------- client side (parent process)

interface ServerProcess {
  readonly port: number;
  cpuMicros(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(framework: Framework): Promise<ServerProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", fileURLToPath(import.meta.url), "--serve", framework], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async (prefix: string): Promise<number> => {
    const { value, done } = await lines.next();
    if (done || !String(value).startsWith(prefix)) throw new Error(`server said ${String(value)}`);
    return Number(String(value).slice(prefix.length));
  };
  const port = await next("port ");
  return {
    port,
    cpuMicros: async () => {
      child.stdin.write("cpu\n");
      return next("cpu ");
    },
    stop: async () => {
      child.stdin.write("exit\n");
      await new Promise((resolve) => child.once("exit", resolve));
    },
  };
}

interface TrialResult {
  readonly name: string;
  readonly perSecond: number;
  readonly serverCpuMicrosPerOp: number;
  readonly latencyMsP50?: number;
  readonly latencyMsP99?: number;
}

type Client = grpc.Client & Record<string, (...args: never[]) => unknown>;

async function unaryProduce(client: Client, count: number): Promise<{ latenciesMs: number[] }> {
  const latenciesMs: number[] = [];
  const value = Buffer.alloc(100, 0x61);
  for (let i = 0; i < count; i++) {
    const sent = performance.now();
    await new Promise((resolve, reject) =>
      (client.produce as (r: unknown, cb: (e: Error | null, v: unknown) => void) => void)({ record: { value } }, (error, response) => (error ? reject(error) : resolve(response))),
    );
    latenciesMs.push(performance.now() - sent);
  }
  return { latenciesMs: latenciesMs.sort((a, b) => a - b) };
}

async function produceStream(client: Client, count: number): Promise<void> {
  const call = (client.produceStream as () => grpc.ClientDuplexStream<unknown, unknown>)();
  const value = Buffer.alloc(100, 0x61);
  let acks = 0;
  const finished = new Promise<void>((resolve, reject) => {
    call.on("data", () => {
      if (++acks === count) resolve();
    });
    call.on("error", reject);
  });
  for (let i = 0; i < count; i++) {
    if (!call.write({ record: { value } })) await new Promise((resolve) => call.once("drain", resolve));
  }
  await finished;
  call.end();
}

async function consumeStream(client: Client, count: number): Promise<void> {
  const call = (client.consumeStream as (r: unknown) => grpc.ClientReadableStream<unknown>)({ offset: 0n });
  let received = 0;
  await new Promise<void>((resolve, reject) => {
    call.on("data", () => {
      if (++received === count) resolve();
    });
    call.on("error", (error: grpc.ServiceError) => (error.code === grpc.status.CANCELLED ? undefined : reject(error)));
  });
  call.cancel();
}

async function consumeBatches(client: Client, count: number): Promise<void> {
  for (let at = 0n; at < BigInt(count); ) {
    const response = await new Promise<{ nextOffset: bigint }>((resolve, reject) =>
      (client.consumeBatch as (r: unknown, cb: (e: Error | null, v: unknown) => void) => void)({ offset: at, maxRecords: 1000 }, (error, r) =>
        error ? reject(error) : resolve(r as { nextOffset: bigint }),
      ),
    );
    at = response.nextOffset;
  }
}

async function measure(server: ServerProcess, name: string, ops: number, run: () => Promise<unknown>): Promise<TrialResult> {
  const cpuBefore = await server.cpuMicros();
  const start = performance.now();
  await run();
  const seconds = (performance.now() - start) / 1000;
  const cpuMicros = (await server.cpuMicros()) - cpuBefore;
  return { name, perSecond: ops / seconds, serverCpuMicrosPerOp: cpuMicros / ops };
}

async function compare(framework: Framework, records: number, fastDecoding: boolean): Promise<TrialResult[]> {
  const server = await startServer(framework);
  const Constructor = grpc.makeGenericClientConstructor(grpcServiceDefinition(LogService, fastDecoding), "Log");
  const client = new Constructor(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as unknown as Client;
  const results: TrialResult[] = [];
  await unaryProduce(client, 200); // warm-up, not timed
  let latencies: number[] = [];
  const unary = await measure(server, `${framework} unary Produce (c=1)`, 2000, async () => {
    latencies = (await unaryProduce(client, 2000)).latenciesMs;
  });
  results.push({ ...unary, latencyMsP50: percentile(latencies, 0.5), latencyMsP99: percentile(latencies, 0.99) });
  results.push(await measure(server, `${framework} ProduceStream`, records, () => produceStream(client, records)));
  results.push(await measure(server, `${framework} ConsumeStream`, records, () => consumeStream(client, records)));
  results.push(await measure(server, `${framework} ConsumeBatch x1000 (records)`, records, () => consumeBatches(client, records)));
  client.close();
  await server.stop();
  return results;
}

async function main(): Promise<void> {
  const records = flag("records", 20_000);
  const results: TrialResult[] = [];
  const contenders = [["grpc-js", false], ["connect-node", false], ["loghouse", false], ["loghouse", true]] as const;
  for (const [framework, fastDecoding] of contenders) {
    const trials = (await compare(framework, records, fastDecoding)).map((t) => (fastDecoding ? { ...t, name: `${t.name} +fast client decode` } : t));
    for (const trial of trials) console.log(`  ${trial.name}: ${formatRate(trial.perSecond)}/s, server ${trial.serverCpuMicrosPerOp.toFixed(1)} µs CPU/op`);
    results.push(...trials);
  }
  printTable(
    ["trial", "ops/s", "server µs CPU/op", "p50 ms", "p99 ms"],
    results.map((r) => [r.name, formatRate(r.perSecond), r.serverCpuMicrosPerOp.toFixed(1), r.latencyMsP50?.toFixed(3) ?? "", r.latencyMsP99?.toFixed(3) ?? ""]),
  );
}

exitOnHelp(`
usage: node --import tsx bench/server-frameworks.ts [--records 20000]

grpc-js against connect-node (and Loghouse's own server), each in a child process over the same
storage log, driven by the same grpc-js client; prints rate and server CPU per message.
`);

const serveAt = process.argv.indexOf("--serve");
if (serveAt >= 0) {
  await serve(process.argv[serveAt + 1] as Framework);
} else {
  await main();
}
