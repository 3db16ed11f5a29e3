// The byte stream of one Raft transport connection, version 2:
//
//   hello:  u8 0x01 (connection marker)  u8 version (2)  u64 sender node id
//   frames: u32 length  then `length` bytes of one encoded message (message-codec.ts)
//
// Little-endian. The marker is the first byte of the connection because Raft shares the node's port
// with HTTP/1.1 and HTTP/2, neither of which can start with 0x01; the server sniffs it and hands the
// socket over. The connection is one-way: the dialling node sends, the accepting node only reads.
import assert from "node:assert/strict";
import { CodecError } from "./transport-errors.ts";

export const CONNECTION_MARKER = 0x01;
export const TRANSPORT_VERSION = 2;
export const HELLO_BYTES = 1 + 1 + 8;
export const FRAME_HEADER_BYTES = 4;
const UINT32_LIMIT = 0x1_0000_0000;

/** The hello a dialling node writes first. */
export function encodeHello(nodeId: number): Buffer {
  assert.ok(Number.isSafeInteger(nodeId) && nodeId > 0, "node id must be a positive safe integer");
  const hello = Buffer.allocUnsafe(HELLO_BYTES);
  hello.writeUInt8(CONNECTION_MARKER, 0);
  hello.writeUInt8(TRANSPORT_VERSION, 1);
  hello.writeUInt32LE(nodeId % UINT32_LIMIT, 2);
  hello.writeUInt32LE(Math.floor(nodeId / UINT32_LIMIT), 6);
  return hello;
}

/** Validates a hello and returns the sender's node id; throws CodecError if it is not one. */
export function decodeHello(hello: Buffer): number {
  assert.equal(hello.length, HELLO_BYTES);
  if (hello[0] !== CONNECTION_MARKER) throw new CodecError("bad-connection-marker", `first byte 0x${hello[0]?.toString(16)}`);
  if (hello[1] !== TRANSPORT_VERSION) throw new CodecError("unsupported-version", `version ${hello[1]}`);
  const nodeId = hello.readUInt32LE(6) * UINT32_LIMIT + hello.readUInt32LE(2);
  if (!Number.isSafeInteger(nodeId) || nodeId === 0) throw new CodecError("bad-sender", `node id ${nodeId}`);
  return nodeId;
}

/**
 * Reassembles what arrives from a socket, in whatever chunks it comes, into the hello and the frames.
 * Returned buffers are views of the received chunks when a piece lies within one chunk (the common
 * case) and a copy only when it spans chunks. Memory is bounded by the caller reading eagerly: at most
 * one incomplete frame, whose length is checked against `frameBytesMax` before its bytes are awaited.
 */
export class FrameReader {
  private readonly chunks: Buffer[] = [];
  private bufferedBytes = 0;

  constructor(private readonly frameBytesMax: number) {
    assert.ok(Number.isSafeInteger(frameBytesMax) && frameBytesMax > 0, "frameBytesMax must be a positive integer");
  }

  /** Bytes received but not yet returned. */
  get buffered(): number {
    return this.bufferedBytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /** The next `length` bytes, or null while fewer are buffered. */
  take(length: number): Buffer | null {
    if (this.bufferedBytes < length) return null;
    this.bufferedBytes -= length;
    const first = this.chunks[0];
    if (first !== undefined && first.length >= length) return this.takeFromFirst(first, length);
    const pieces: Buffer[] = [];
    let missing = length;
    while (missing > 0) {
      const chunk = this.chunks[0];
      assert.ok(chunk !== undefined, "buffered byte count disagrees with the chunks");
      const piece = this.takeFromFirst(chunk, Math.min(missing, chunk.length));
      pieces.push(piece);
      missing -= piece.length;
    }
    return Buffer.concat(pieces, length);
  }

  /**
   * The payload of the next complete frame, or null while it is incomplete. Throws CodecError as soon
   * as a frame header announces more than `frameBytesMax` bytes.
   */
  nextFrame(): Buffer | null {
    if (this.bufferedBytes < FRAME_HEADER_BYTES) return null;
    const length = this.peekUint32();
    if (length > this.frameBytesMax) {
      throw new CodecError("frame-too-large", `frame of ${length} bytes exceeds frameBytesMax ${this.frameBytesMax}`);
    }
    if (this.bufferedBytes < FRAME_HEADER_BYTES + length) return null;
    this.take(FRAME_HEADER_BYTES);
    const frame = this.take(length);
    assert.ok(frame !== null && frame.length === length, "a complete frame must be taken whole");
    return frame;
  }

  private takeFromFirst(first: Buffer, length: number): Buffer {
    if (first.length === length) {
      this.chunks.shift();
      return first;
    }
    this.chunks[0] = first.subarray(length);
    return first.subarray(0, length);
  }

  private peekUint32(): number {
    const first = this.chunks[0];
    assert.ok(first !== undefined, "peek needs buffered bytes");
    if (first.length >= FRAME_HEADER_BYTES) return first.readUInt32LE(0);
    const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES);
    let filled = 0;
    for (const chunk of this.chunks) {
      filled += chunk.copy(header, filled, 0, Math.min(chunk.length, FRAME_HEADER_BYTES - filled));
      if (filled === FRAME_HEADER_BYTES) break;
    }
    return header.readUInt32LE(0);
  }
}
