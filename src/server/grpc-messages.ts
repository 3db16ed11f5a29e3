// Request side of the gRPC fast path: splitting HTTP/2 DATA into length-prefixed messages, and
// handing a streaming call's requests to its handler with flow control.
import { Code, ConnectError } from "@connectrpc/connect";

const HEADER_BYTES = 5;

/**
 * Splits a byte stream into gRPC messages. A message's size is checked against the limit as soon as
 * its 5-byte header arrives, before any of its body is buffered. Messages that lie inside one
 * chunk are passed on as views of that chunk, without copying.
 */
export class MessageReader {
  private header = Buffer.alloc(HEADER_BYTES);
  private headerBytes = 0;
  private body: Buffer | undefined;
  private bodyBytes = 0;

  constructor(
    private readonly messageBytesMax: number,
    /** The refusal of a message over messageBytesMax. */
    private readonly tooLarge: (message: string) => Error,
  ) {}

  push(chunk: Buffer, onMessage: (message: Uint8Array) => void): void {
    let at = 0;
    while (at < chunk.length) {
      if (this.body === undefined) {
        // Fast path: a whole message in what is left of the chunk.
        if (this.headerBytes === 0 && chunk.length - at >= HEADER_BYTES) {
          const length = this.checkHeader(chunk[at]!, chunk.readUInt32BE(at + 1));
          if (chunk.length - at - HEADER_BYTES >= length) {
            onMessage(chunk.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length));
            at += HEADER_BYTES + length;
            continue;
          }
        }
        const taken = Math.min(HEADER_BYTES - this.headerBytes, chunk.length - at);
        chunk.copy(this.header, this.headerBytes, at, at + taken);
        this.headerBytes += taken;
        at += taken;
        if (this.headerBytes < HEADER_BYTES) return;
        this.body = Buffer.allocUnsafe(this.checkHeader(this.header[0]!, this.header.readUInt32BE(1)));
        this.bodyBytes = 0;
      }
      const taken = Math.min(this.body.length - this.bodyBytes, chunk.length - at);
      chunk.copy(this.body, this.bodyBytes, at, at + taken);
      this.bodyBytes += taken;
      at += taken;
      if (this.bodyBytes === this.body.length) {
        const message = this.body;
        this.body = undefined;
        this.headerBytes = 0;
        onMessage(message);
      }
    }
  }

  /** The client ended its side: a partial message left over is a protocol error. */
  end(): void {
    if (this.headerBytes > 0 || this.body !== undefined) {
      throw new ConnectError("request ended inside a message", Code.InvalidArgument);
    }
  }

  private checkHeader(flags: number, length: number): number {
    if (flags !== 0) throw new ConnectError("compressed messages are not supported (grpc-encoding is identity)", Code.Unimplemented);
    if (length > this.messageBytesMax) throw this.tooLarge(`message of ${length} bytes exceeds messageBytesMax ${this.messageBytesMax}`);
    return length;
  }
}

interface FlowControl {
  pause(): void;
  resume(): void;
}

/**
 * The requests of a streaming call as an async iterable. Decoded requests wait here until the
 * handler takes them; past `bytesMax` waiting, the HTTP/2 stream is paused, so the client is held
 * back by flow control rather than growing server memory.
 */
export class RequestQueue<T> implements AsyncIterableIterator<T> {
  private readonly items: Array<{ value: T; bytes: number }> = [];
  private bytes = 0;
  private paused = false;
  private ended = false;
  private failure: { error: unknown } | undefined;
  private waiter: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;

  constructor(
    private readonly bytesMax: number,
    private readonly flow: FlowControl,
  ) {}

  push(value: T, bytes: number): void {
    if (this.ended || this.failure !== undefined) return;
    if (this.waiter !== undefined) {
      const waiter = this.waiter;
      this.waiter = undefined;
      waiter.resolve({ value, done: false });
      return;
    }
    this.items.push({ value, bytes });
    this.bytes += bytes;
    if (this.bytes >= this.bytesMax && !this.paused) {
      this.paused = true;
      this.flow.pause();
    }
  }

  end(): void {
    this.ended = true;
    this.settleWaiter();
  }

  fail(error: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = { error };
    this.items.length = 0;
    this.settleWaiter();
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) {
      this.bytes -= item.bytes;
      if (this.paused && this.bytes < this.bytesMax / 2) {
        this.paused = false;
        this.flow.resume();
      }
      return Promise.resolve({ value: item.value, done: false });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure.error);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => (this.waiter = { resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.ended = true;
    this.items.length = 0;
    this.settleWaiter();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private settleWaiter(): void {
    const waiter = this.waiter;
    if (waiter === undefined) return;
    this.waiter = undefined;
    if (this.failure !== undefined) {
      waiter.reject(this.failure.error);
    } else {
      waiter.resolve({ value: undefined, done: true });
    }
  }
}
