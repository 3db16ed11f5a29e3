// A grpc-js client for log.v1.Log and grpc.health.v1.Health with promise-returning unary calls,
// for tests that need a real, independent gRPC implementation on the other end of the socket.
import type { DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { grpcServiceDefinition } from "../../src/client/grpc-definition.ts";
import { Health } from "../../src/gen/grpc/health/v1/health_pb.ts";
import { Log } from "../../src/gen/log/v1/log_pb.ts";

type AnyClient = grpc.Client & Record<string, (...args: never[]) => unknown>;

export interface GrpcTestClient {
  /** A unary call; rejects with the grpc-js ServiceError. */
  unary<T = any>(method: string, request: object, options?: grpc.CallOptions): Promise<T>;
  /** A unary call with its handle, to cancel it. */
  cancellable<T = any>(method: string, request: object, options?: grpc.CallOptions): { call: grpc.ClientUnaryCall; result: Promise<T> };
  serverStream(method: string, request: object, options?: grpc.CallOptions): grpc.ClientReadableStream<any>;
  bidiStream(method: string, options?: grpc.CallOptions): grpc.ClientDuplexStream<any, any>;
  health: { unary<T = any>(method: string, request: object): Promise<T>; serverStream(method: string, request: object): grpc.ClientReadableStream<any> };
  close(): void;
}

function makeClient(service: DescService, address: string, fastDecoding: boolean, options: grpc.ChannelOptions): AnyClient {
  const Constructor = grpc.makeGenericClientConstructor(grpcServiceDefinition(service, fastDecoding), service.name);
  return new Constructor(address, grpc.credentials.createInsecure(), options) as unknown as AnyClient;
}

function cancellableOf(client: AnyClient) {
  return <T>(method: string, request: object, options: grpc.CallOptions = {}): { call: grpc.ClientUnaryCall; result: Promise<T> } => {
    const start = client[method] as unknown as (r: object, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v: T) => void) => grpc.ClientUnaryCall;
    let call: grpc.ClientUnaryCall | undefined;
    const result = new Promise<T>((resolve, reject) => {
      call = start.call(client, request, new grpc.Metadata(), options, (error, value) => (error ? reject(error) : resolve(value)));
    });
    return { call: call!, result };
  };
}

function unaryOf(client: AnyClient) {
  const cancellable = cancellableOf(client);
  return <T>(method: string, request: object, options: grpc.CallOptions = {}): Promise<T> => cancellable<T>(method, request, options).result;
}

/** `fastDecoding` picks the hand-written record decoders; false decodes with protobuf-es reflection. */
export function grpcTestClient(address: string, fastDecoding = false, options: grpc.ChannelOptions = {}): GrpcTestClient {
  const log = makeClient(Log, address, fastDecoding, options);
  const health = makeClient(Health, address, fastDecoding, options);
  return {
    unary: unaryOf(log),
    cancellable: cancellableOf(log),
    serverStream: (method, request, callOptions = {}) => (log[method] as unknown as (r: object, o: grpc.CallOptions) => grpc.ClientReadableStream<any>).call(log, request, callOptions),
    bidiStream: (method, callOptions = {}) => (log[method] as unknown as (o: grpc.CallOptions) => grpc.ClientDuplexStream<any, any>).call(log, callOptions),
    health: {
      unary: unaryOf(health),
      serverStream: (method, request) => (health[method] as unknown as (r: object) => grpc.ClientReadableStream<any>).call(health, request),
    },
    close: () => {
      log.close();
      health.close();
    },
  };
}

/** Resolves with the status a grpc-js call ends with (its "status" event; its "error" event is then expected). */
export function statusOf(call: grpc.ClientReadableStream<unknown> | grpc.ClientDuplexStream<unknown, unknown>): Promise<grpc.StatusObject> {
  call.on("error", () => undefined);
  return new Promise((resolve) => call.on("status", resolve));
}

/** Collects `count` messages from a stream (then stops listening). */
export function take<T = any>(call: grpc.ClientReadableStream<T> | grpc.ClientDuplexStream<unknown, T>, count: number): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const messages: T[] = [];
    if (count === 0) resolve(messages);
    const onData = (message: T): void => {
      messages.push(message);
      if (messages.length === count) {
        call.pause();
        call.off("data", onData);
        call.off("error", onError);
        resolve(messages);
      }
    };
    const onError = (error: Error): void => reject(error);
    call.on("data", onData);
    call.on("error", onError);
    call.resume();
  });
}
