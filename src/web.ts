// The browser entry of the package (`loghouse/web`): the wire contract's generated services and
// connect-web's transports, with nothing from Node. A page calls a node directly over Connect or
// gRPC-Web (unary calls and server streams, such as following the tail); no proxy is needed.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { Log } from "./gen/log/v1/log_pb.ts";

export { Code, ConnectError, createClient, type Client, type Transport } from "@connectrpc/connect";
export { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
export { Health as HealthService } from "./gen/grpc/health/v1/health_pb.ts";
export { Log as LogService } from "./gen/log/v1/log_pb.ts";

export interface LogClientOptions {
  /** "connect" (default) or "grpc-web"; both work from a browser straight to a node. */
  readonly protocol?: "connect" | "grpc-web";
  /** Connect only: protobuf binary instead of JSON on the wire. */
  readonly binary?: boolean;
}

/** A client of the node at `baseUrl` (e.g. "http://127.0.0.1:8400") for the log.v1.Log service. */
export function createLogClient(baseUrl: string, options: LogClientOptions = {}): Client<typeof Log> {
  const transport = options.protocol === "grpc-web" ? createGrpcWebTransport({ baseUrl }) : createConnectTransport({ baseUrl, useBinaryFormat: options.binary === true });
  return createClient(Log, transport);
}
