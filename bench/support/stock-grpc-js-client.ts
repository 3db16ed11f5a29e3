// A load client built only from stock parts: @grpc/grpc-js with @grpc/proto-loader reading
// proto/log/v1/log.proto at run time, as any Node user of the Go original would write it. It imports
// nothing of Loghouse. One process per trial; it prints one JSON line with what it measured.
//
//   node bench/support/stock-grpc-js-client.ts --target HOST:PORT --mode MODE [--seconds S]
//        [--concurrency N] [--record-bytes B] [--from OFFSET] [--count N]
//
// Modes: unary (Produce, --concurrency calls in flight), produce-stream (one ProduceStream, one record
// per message), consume-stream (one ConsumeStream from --from), fill (ProduceBatch until --count
// records are stored: setup, not measured).
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    target: { type: "string" },
    mode: { type: "string" },
    seconds: { type: "string", default: "5" },
    concurrency: { type: "string", default: "1" },
    "record-bytes": { type: "string", default: "100" },
    from: { type: "string", default: "0" },
    count: { type: "string", default: "0" },
  },
});

const PROTO_DIR = fileURLToPath(new URL("../../proto", import.meta.url));
/** Produce acknowledgements a stream may owe before the writer waits (so the stream measures throughput, not a queue). */
const STREAM_WINDOW = 1_000;
const FILL_BATCH_RECORDS = 10_000;

type Callback<T> = (error: grpc.ServiceError | null, value?: T) => void;
interface LogStub extends grpc.Client {
  Produce(request: object, callback: Callback<{ offset: string }>): grpc.ClientUnaryCall;
  ProduceBatch(request: object, callback: Callback<unknown>): grpc.ClientUnaryCall;
  ProduceStream(): grpc.ClientDuplexStream<object, { offset: string }>;
  ConsumeStream(request: object): grpc.ClientReadableStream<unknown>;
}

const definition = protoLoader.loadSync("log/v1/log.proto", { includeDirs: [PROTO_DIR], longs: String, defaults: true });
const LogClient = (grpc.loadPackageDefinition(definition) as unknown as { log: { v1: { Log: new (target: string, credentials: grpc.ChannelCredentials) => LogStub } } }).log.v1.Log;
const client = new LogClient(args.target!, grpc.credentials.createInsecure());
const seconds = Number(args.seconds);
const value = Buffer.alloc(Number(args["record-bytes"]), 0x61);

interface Result {
  readonly calls: number;
  readonly seconds: number;
  readonly latenciesMs: number[];
}

async function unary(concurrency: number): Promise<Result> {
  const latenciesMs: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const sent = performance.now();
      await new Promise<void>((resolve, reject) => client.Produce({ record: { value } }, (error) => (error === null ? resolve() : reject(error))));
      latenciesMs.push(performance.now() - sent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  return { calls: latenciesMs.length, seconds: (performance.now() - started) / 1000, latenciesMs };
}

async function produceStream(): Promise<Result> {
  const call = client.ProduceStream();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  let sent = 0;
  let acknowledged = 0;
  let wake: (() => void) | undefined;
  call.on("data", () => {
    acknowledged++;
    wake?.();
  });
  const ended = new Promise<void>((resolve, reject) => {
    call.on("end", resolve);
    call.on("error", reject);
  });
  while (performance.now() < deadline) {
    if (sent - acknowledged >= STREAM_WINDOW) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      continue;
    }
    sent++;
    if (!call.write({ record: { value } })) await once(call, "drain");
  }
  const elapsed = (performance.now() - started) / 1000;
  const counted = acknowledged;
  call.end();
  await ended;
  return { calls: counted, seconds: elapsed, latenciesMs: [] };
}

async function consumeStream(from: string): Promise<Result> {
  const call = client.ConsumeStream({ offset: from });
  const started = performance.now();
  let records = 0;
  const timer = setTimeout(() => call.cancel(), seconds * 1000);
  await new Promise<void>((resolve, reject) => {
    call.on("data", () => records++);
    call.on("end", resolve);
    call.on("error", (error: grpc.ServiceError) => (error.code === grpc.status.CANCELLED ? resolve() : reject(error)));
  });
  clearTimeout(timer);
  return { calls: records, seconds: (performance.now() - started) / 1000, latenciesMs: [] };
}

async function fill(count: number): Promise<Result> {
  const started = performance.now();
  for (let stored = 0; stored < count; stored += FILL_BATCH_RECORDS) {
    const values = Array.from({ length: Math.min(FILL_BATCH_RECORDS, count - stored) }, () => value);
    await new Promise<void>((resolve, reject) => client.ProduceBatch({ values }, (error) => (error === null ? resolve() : reject(error))));
  }
  return { calls: count, seconds: (performance.now() - started) / 1000, latenciesMs: [] };
}

const modes: Record<string, () => Promise<Result>> = {
  unary: () => unary(Number(args.concurrency)),
  "produce-stream": produceStream,
  "consume-stream": () => consumeStream(args.from!),
  fill: () => fill(Number(args.count)),
};
const run = modes[args.mode ?? ""];
if (run === undefined || args.target === undefined) {
  console.error(`usage: --target HOST:PORT --mode ${Object.keys(modes).join("|")}`);
  process.exit(2);
}
// The CPU this process spent on the trial, so the bench can tell a trial the client itself limits.
const cpuBefore = process.cpuUsage();
const result = await run();
const cpu = process.cpuUsage(cpuBefore);
client.close();
console.log(JSON.stringify({ ...result, cpuMs: (cpu.user + cpu.system) / 1000 }));
