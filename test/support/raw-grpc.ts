// gRPC by hand over Node's HTTP/2 client, for tests that must send what no well-behaved client
// library would: malformed messages, lying length prefixes, compressed flags, huge declarations.
import * as http2 from "node:http2";

export interface RawGrpcResult {
  readonly httpStatus: number;
  /** grpc-status from the trailers (or from the headers of a trailers-only answer). */
  readonly status: number;
  readonly message: string;
  readonly data: Buffer;
}

/** A gRPC message: [flags][u32 big-endian length][bytes]; `declaredBytes` may lie about the length. */
export function frame(message: Uint8Array, flags = 0, declaredBytes = message.length): Buffer {
  const header = Buffer.alloc(5);
  header[0] = flags;
  header.writeUInt32BE(declaredBytes, 1);
  return Buffer.concat([header, message]);
}

export function rawGrpcCall(
  port: number,
  path: string,
  body: Buffer,
  options: { headers?: http2.OutgoingHttpHeaders; endStream?: boolean; contentType?: string } = {},
): Promise<RawGrpcResult> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  return new Promise<RawGrpcResult>((resolve, reject) => {
    session.on("error", reject);
    const request = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": options.contentType ?? "application/grpc",
      te: "trailers",
      ...options.headers,
    });
    let headers: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    request.on("response", (h) => (headers = h));
    request.on("trailers", (t) => (trailers = t));
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("error", reject);
    request.on("close", () => {
      const source = trailers["grpc-status"] !== undefined ? trailers : headers;
      resolve({
        httpStatus: Number(headers[":status"]),
        status: Number(source["grpc-status"] ?? -1),
        message: decodeURIComponent(String(source["grpc-message"] ?? "")),
        data: Buffer.concat(chunks),
      });
    });
    request.write(body);
    if (options.endStream !== false) request.end();
  }).finally(() => session.close());
}
