// The browser entry of the package (`loghouse/web`): the wire contract's generated services and
// connect-web's transports, with nothing from Node. A page calls a node directly over Connect or
// gRPC-Web (unary calls and server streams, such as following the tail); no proxy is needed.
import { createClient, type Client, type Interceptor } from "@connectrpc/connect";
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
  /** A bearer token the node maps to a principal (its --tokens file); use it over HTTPS. */
  readonly token?: string;
}

/** Sends `authorization: Bearer TOKEN` with every call (browsers authenticate with tokens, not client certificates). */
export function bearerToken(token: string): Interceptor {
  return (next) => (request) => {
    request.header.set("authorization", `Bearer ${token}`);
    return next(request);
  };
}

/** A client of the node at `baseUrl` (e.g. "http://127.0.0.1:8400", or "https://..." with a token) for the log.v1.Log service. */
export function createLogClient(baseUrl: string, options: LogClientOptions = {}): Client<typeof Log> {
  const interceptors = options.token === undefined ? [] : [bearerToken(options.token)];
  const transport =
    options.protocol === "grpc-web" ? createGrpcWebTransport({ baseUrl, interceptors }) : createConnectTransport({ baseUrl, useBinaryFormat: options.binary === true, interceptors });
  return createClient(Log, transport);
}
