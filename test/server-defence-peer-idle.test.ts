// Raft peer connections are timed out (issue 9, finding 7): an accepted connection that stops after
// its hello, or in the middle of it, is closed after INBOUND_IDLE_TIMEOUT_MS, while one that carries
// heartbeats stays open. Real sockets on loopback; the clock is the real one, so this takes a few seconds.
import assert from "node:assert/strict";
import * as net from "node:net";
import { test } from "node:test";
import { encodeHello } from "../src/cluster/frame-reader.ts";
import { INBOUND_IDLE_TIMEOUT_MS, InboundConnection } from "../src/cluster/inbound-connection.ts";
import { encodeMessage } from "../src/cluster/message-codec.ts";
import type { PeerMessage } from "../src/cluster/peer-message.ts";
import { TransportCounters } from "../src/cluster/transport-stats.ts";
import { message, MessageType } from "../src/raft/index.ts";
import { cleanup } from "./support/cleanup.ts";
import { waitUntil } from "./support/wait-until.ts";

const NODE_ID = 1;
const PEER_ID = 2;
/** How often the busy peer sends a heartbeat: ten times within the idle timeout. */
const HEARTBEAT_MS = INBOUND_IDLE_TIMEOUT_MS / 10;

function heartbeatFrame(): Buffer {
  const body = encodeMessage(message({ type: MessageType.Heartbeat, from: PEER_ID, to: NODE_ID, term: 1 }));
  const header = Buffer.alloc(4);
  header.writeUInt32LE(body.length);
  return Buffer.concat([header, body]);
}

test("a peer connection quiet after its hello (or within it) is closed; one with heartbeats stays", { timeout: 60_000 }, async (t) => {
  const delivered: PeerMessage[] = [];
  const context = { nodeId: NODE_ID, frameBytesMax: 1 << 20, counters: new TransportCounters(), deliver: (m: PeerMessage) => delivered.push(m), onError: () => undefined, authenticates: () => true };
  const accepted = new Set<InboundConnection>();
  const server = net.createServer((socket) => {
    const connection = new InboundConnection(socket, context, (closed) => accepted.delete(closed));
    accepted.add(connection);
    connection.start(Buffer.alloc(0));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanup(t, () => new Promise((resolve) => server.close(resolve)));
  cleanup(t, () => Promise.all([...accepted].map((connection) => connection.close())));
  const port = (server.address() as net.AddressInfo).port;

  const dial = (firstBytes: Buffer): { socket: net.Socket; closed: () => boolean } => {
    const socket = net.connect(port, "127.0.0.1");
    socket.on("error", () => undefined);
    cleanup(t, () => socket.destroy());
    let closed = false;
    socket.once("close", () => (closed = true));
    socket.resume();
    socket.write(firstBytes);
    return { socket, closed: () => closed };
  };
  const afterHello = dial(encodeHello(PEER_ID));
  const withinHello = dial(encodeHello(PEER_ID).subarray(0, 5));
  const busy = dial(encodeHello(PEER_ID));
  const heartbeats = setInterval(() => busy.socket.write(heartbeatFrame()), HEARTBEAT_MS);
  cleanup(t, () => clearInterval(heartbeats));

  const startedMs = performance.now();
  await waitUntil("both quiet connections to be closed", () => afterHello.closed() && withinHello.closed(), INBOUND_IDLE_TIMEOUT_MS + 20_000);
  const closedAfterMs = performance.now() - startedMs;
  t.diagnostic(`quiet connections closed after ${closedAfterMs.toFixed(0)} ms (timeout ${INBOUND_IDLE_TIMEOUT_MS} ms)`);
  assert.ok(closedAfterMs >= INBOUND_IDLE_TIMEOUT_MS - 100, "not before the timeout");
  assert.equal(busy.closed(), false, "the connection carrying heartbeats stays open");
  assert.ok(delivered.length >= 5, `heartbeats delivered: ${delivered.length}`);
});
