// HTTP/2 frames written by hand over a plain TCP socket, for tests that act as a hostile client
// would: a request and its reset in one TCP write (the rapid reset of CVE-2023-44487), connections
// that stop after the preface. Node's own client cannot do this: it sends a stream's reset only
// after its data, in a separate write. RFC 9113 §4 (frames) and RFC 7541 (HPACK; only literal
// header fields without indexing are written, so no dynamic table is needed).
import * as net from "node:net";

export const FrameType = { data: 0x0, headers: 0x1, rstStream: 0x3, settings: 0x4, ping: 0x6, goaway: 0x7 } as const;
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FRAME_HEADER_BYTES = 9;
export const ERROR_CODE = { noError: 0x0, cancel: 0x8, enhanceYourCalm: 0xb } as const;

const CLIENT_PREFACE = Buffer.from("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", "latin1");

function http2Frame(type: number, flags: number, streamId: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(streamId, 5);
  return Buffer.concat([header, payload]);
}

/** An HPACK integer with an `prefixBits`-bit prefix (RFC 7541 §5.1). */
function hpackInteger(value: number, prefixBits: number, firstByteFlags: number): number[] {
  const prefixMax = (1 << prefixBits) - 1;
  if (value < prefixMax) return [firstByteFlags | value];
  const bytes = [firstByteFlags | prefixMax];
  for (value -= prefixMax; value >= 128; value = Math.floor(value / 128)) bytes.push((value % 128) | 0x80);
  bytes.push(value);
  return bytes;
}

/** A header block of literal fields without indexing, new names (RFC 7541 §6.2.2). */
function headerBlock(headers: ReadonlyArray<readonly [string, string]>): Buffer {
  const bytes: number[] = [];
  for (const [name, value] of headers) {
    bytes.push(0x00);
    for (const text of [name, value]) {
      const encoded = Buffer.from(text, "latin1");
      bytes.push(...hpackInteger(encoded.length, 7, 0x00), ...encoded);
    }
  }
  return Buffer.from(bytes);
}

/** The client preface and an empty SETTINGS frame: what opens every connection. */
function connectionStart(): Buffer {
  return Buffer.concat([CLIENT_PREFACE, http2Frame(FrameType.settings, 0, 0)]);
}

/** HEADERS and DATA (ending the stream) of one POST carrying `body`. */
export function request(streamId: number, path: string, contentType: string, body: Buffer): Buffer {
  const headers = headerBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", path],
    [":authority", "127.0.0.1"],
    ["content-type", contentType],
    ["te", "trailers"],
  ]);
  return Buffer.concat([http2Frame(FrameType.headers, FLAG_END_HEADERS, streamId, headers), http2Frame(FrameType.data, FLAG_END_STREAM, streamId, body)]);
}

export function rstStream(streamId: number, errorCode: number = ERROR_CODE.cancel): Buffer {
  const payload = Buffer.alloc(4);
  payload.writeUInt32BE(errorCode);
  return http2Frame(FrameType.rstStream, 0, streamId, payload);
}

export interface ReceivedFrame {
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
  readonly payload: Buffer;
}

/**
 * A client connection that writes raw frames and hands each frame the server sends to `onFrame`.
 * It acknowledges the server's SETTINGS (as every client must) and nothing else: it never opens
 * flow-control windows, so the server can send it at most the initial 64 KiB per connection.
 */
export class RawHttp2Connection {
  readonly socket: net.Socket;
  readonly closed: Promise<void>;
  private received: Buffer = Buffer.alloc(0);

  constructor(port: number, onFrame: (frame: ReceivedFrame) => void = () => undefined) {
    this.socket = net.connect({ port, host: "127.0.0.1", noDelay: true });
    this.socket.on("error", () => undefined);
    this.closed = new Promise((resolve) => this.socket.once("close", () => resolve()));
    this.socket.on("data", (chunk: Buffer) => {
      this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
      while (this.received.length >= FRAME_HEADER_BYTES) {
        const length = this.received.readUIntBE(0, 3);
        if (this.received.length < FRAME_HEADER_BYTES + length) break;
        const received: ReceivedFrame = {
          type: this.received[3]!,
          flags: this.received[4]!,
          streamId: this.received.readUInt32BE(5) & 0x7fff_ffff,
          payload: this.received.subarray(FRAME_HEADER_BYTES, FRAME_HEADER_BYTES + length),
        };
        this.received = this.received.subarray(FRAME_HEADER_BYTES + length);
        if (received.type === FrameType.settings && (received.flags & FLAG_ACK) === 0) this.write(http2Frame(FrameType.settings, FLAG_ACK, 0));
        onFrame(received);
      }
    });
    this.write(connectionStart());
  }

  /** Writes unless the socket is gone; false when it is. */
  write(bytes: Buffer): boolean {
    if (this.socket.destroyed || !this.socket.writable) return false;
    return this.socket.write(bytes);
  }

  destroy(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/** The error code of a GOAWAY frame. */
export function goawayErrorCode(received: ReceivedFrame): number {
  return received.payload.readUInt32BE(4);
}
