// The floor of a Node gRPC server: stock @grpc/grpc-js with @grpc/proto-loader serving log.v1.Log
// with no storage at all (Produce answers the next offset at once, ConsumeStream sends records made
// up on the spot). Whatever a Loghouse node costs beyond this is its own; on two cores the stock
// client is itself a limit, so per-record figures are stated against this server in the same run.
//
//   node bench/support/storageless-server.ts   (prints {"port": N} once listening; Ctrl-C stops it)
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { fileURLToPath } from "node:url";

const PROTO_DIR = fileURLToPath(new URL("../../proto", import.meta.url));
const RECORD_BYTES = 100;

const definition = protoLoader.loadSync("log/v1/log.proto", { includeDirs: [PROTO_DIR], longs: String, defaults: true });
const service = (grpc.loadPackageDefinition(definition) as unknown as { log: { v1: { Log: { service: grpc.ServiceDefinition } } } }).log.v1.Log.service;
const value = Buffer.alloc(RECORD_BYTES, 0x61);
let nextOffset = 0;

const handlers: grpc.UntypedServiceImplementation = {
  Produce: (_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => callback(null, { offset: String(nextOffset++) }),
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
    let cancelled = false;
    call.on("cancelled", () => (cancelled = true));
    call.on("error", () => undefined);
    const pump = (): void => {
      while (!cancelled) {
        if (!call.write({ record: { value, offset: String(offset++) } })) {
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
