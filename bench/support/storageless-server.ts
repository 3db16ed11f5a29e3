// The floor of a Node gRPC server: stock @grpc/grpc-js with @grpc/proto-loader serving log.v1.Log
// with no storage at all (Produce answers the next offset at once, ConsumeStream sends records made
// up on the spot, with the fields a single node's records carry: value, offset and creation time).
// Whatever a Loghouse node costs beyond this is its own; on two cores the stock client is itself a
// limit, so per-record figures are stated against this server in the same run.
// With --durable-file FILE, Produce first appends its value to FILE, opened O_DSYNC so that one
// write on libuv's thread pool (fs.promises) is also its fdatasync, as the node's one task per
// commit is; calls arriving during a write share the next one. That is the floor of a durable Node
// server that keeps fsync off its event loop, as the design requires of the node.
// With --answer-after-ms MS, Produce busies its event loop for MS before answering, touching no disk
// and handing nothing to another thread: the floor of a server that adds one fdatasync's time to each
// call and nothing else (the most favourable way to add it, as no thread sleeps and wakes for it).
//
//   node bench/support/storageless-server.ts [--durable-file FILE | --answer-after-ms MS]   (prints {"port": N} once listening; Ctrl-C stops it)
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const PROTO_DIR = fileURLToPath(new URL("../../proto", import.meta.url));
const RECORD_BYTES = 100;

const definition = protoLoader.loadSync("log/v1/log.proto", { includeDirs: [PROTO_DIR], longs: String, defaults: true });
const service = (grpc.loadPackageDefinition(definition) as unknown as { log: { v1: { Log: { service: grpc.ServiceDefinition } } } }).log.v1.Log.service;
const value = Buffer.alloc(RECORD_BYTES, 0x61);
let nextOffset = 0;
const { values: args } = parseArgs({ options: { "durable-file": { type: "string" }, "answer-after-ms": { type: "string" } } });
const answerAfterMs = Number(args["answer-after-ms"] ?? 0);
const file = args["durable-file"] === undefined ? undefined : await open(args["durable-file"], constants.O_WRONLY | constants.O_CREAT | constants.O_APPEND | constants.O_DSYNC);

/** A group commit at its simplest: values queued while a durable write runs share the next one. */
class DurableAppender {
  private queued: Array<{ value: Buffer; done: () => void; failed: (error: unknown) => void }> = [];
  private running = false;

  constructor(private readonly handle: FileHandle) {}

  append(value: Buffer): Promise<void> {
    return new Promise((done, failed) => {
      this.queued.push({ value, done, failed });
      if (!this.running) void this.run();
    });
  }

  /** Writes what is queued, batch after batch; a failed write fails its batch's calls, and the next batch is tried. */
  private async run(): Promise<void> {
    this.running = true;
    while (this.queued.length > 0) {
      const batch = this.queued.splice(0);
      try {
        await this.handle.writev(batch.map((queued) => queued.value));
        for (const queued of batch) queued.done();
      } catch (error) {
        for (const queued of batch) queued.failed(error);
      }
    }
    this.running = false;
  }
}

const appender = file === undefined ? undefined : new DurableAppender(file);

/** Keeps the event loop busy for `ms`. */
function busyFor(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

const handlers: grpc.UntypedServiceImplementation = {
  Produce: (call: grpc.ServerUnaryCall<{ record?: { value?: Buffer } }, unknown>, callback: grpc.sendUnaryData<unknown>) => {
    const offset = String(nextOffset++);
    if (answerAfterMs > 0) busyFor(answerAfterMs);
    if (appender === undefined) return callback(null, { offset });
    appender.append(call.request.record?.value ?? Buffer.alloc(0)).then(() => callback(null, { offset }), (error: Error) => callback(error));
  },
  Consume: (call: grpc.ServerUnaryCall<{ offset: string }, unknown>, callback: grpc.sendUnaryData<unknown>) =>
    callback(null, { record: { value, offset: call.request.offset } }),
  GetServers: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, { servers: [] }),
  ProduceStream: (call: grpc.ServerDuplexStream<unknown, unknown>) => {
    call.on("data", () => call.write({ offset: String(nextOffset++) }));
    call.on("end", () => call.end());
    call.on("error", () => undefined);
  },
  ConsumeStream: (call: grpc.ServerWritableStream<{ offset: string }, unknown>) => {
    let offset = Number(call.request.offset);
    const createdMs = String(Date.now());
    let cancelled = false;
    call.on("cancelled", () => (cancelled = true));
    call.on("error", () => undefined);
    const pump = (): void => {
      while (!cancelled) {
        // The fields a node's record carries on a single node (term and type are 0 there, so not sent).
        if (!call.write({ record: { value, offset: String(offset++), timestampMs: createdMs } })) {
          call.once("drain", pump);
          return;
        }
      }
    };
    pump();
  },
};

const server = new grpc.Server();
server.addService(service, handlers);
server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error !== null) throw error;
  console.log(JSON.stringify({ port }));
});
