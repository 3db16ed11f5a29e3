// The Raft transport over real loopback sockets: delivery and order between two and three nodes, large
// appends, redialling a peer that comes back, bounded queues towards a peer that never reads, hostile
// input closing only its own connection, handover from a sniffing server, and a clean close.
// Nothing here sleeps: every wait is for a condition, with a bound.
import assert from "node:assert/strict";
import { randomFillSync } from "node:crypto";
import { connect, createServer, type Server, type Socket } from "node:net";
import { describe, test, type TestContext } from "node:test";
import { encodeHello, TRANSPORT_VERSION } from "../src/cluster/frame-reader.ts";
import { encodeMessage, encodeRepairMessage } from "../src/cluster/message-codec.ts";
import type { RepairMessage } from "../src/cluster/peer-message.ts";
import { RaftTransport, type RaftTransportOptions } from "../src/cluster/raft-transport.ts";
import { CodecError, PeerUnavailableError } from "../src/cluster/transport-errors.ts";
import { InvalidArgumentError, InvalidConfigError } from "../src/errors.ts";
import { EntryType, message, MessageType, type Entry, type Message } from "../src/raft/index.ts";
import { cleanup } from "./support/cleanup.ts";

const WAIT_MS = 10_000;

/** Collects delivered messages and resolves waits for a count of them. */
class Inbox {
  readonly messages: Message[] = [];
  private waiter: { count: number; resolve: () => void } | null = null;

  readonly onMessage = (m: Message): void => {
    this.messages.push(m);
    if (this.waiter !== null && this.messages.length >= this.waiter.count) this.waiter.resolve();
  };

  /** Resolves true once `count` messages have arrived, false if `timeoutMs` passes first. */
  arrived(count: number, timeoutMs: number): Promise<boolean> {
    if (this.messages.length >= count) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(false);
      }, timeoutMs);
      this.waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve(true);
        },
      };
    });
  }

  async waitFor(count: number): Promise<void> {
    if (!(await this.arrived(count, WAIT_MS))) assert.fail(`timed out waiting for ${count} messages, have ${this.messages.length}`);
  }
}

/** Polls `condition` every few milliseconds until it holds; fails after WAIT_MS. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + WAIT_MS;
  while (!condition()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Node {
  readonly transport: RaftTransport;
  readonly inbox: Inbox;
  readonly errors: Error[];
  readonly address: string;
}

async function startNode(t: TestContext, nodeId: number, options: Partial<RaftTransportOptions> = {}, port = 0): Promise<Node> {
  const inbox = new Inbox();
  const errors: Error[] = [];
  const transport = new RaftTransport({
    nodeId,
    onMessage: inbox.onMessage,
    onError: (error) => errors.push(error),
    reconnectDelayMs: { min: 5, max: 50 },
    ...options,
  });
  cleanup(t, () => transport.close());
  const bound = await transport.listen("127.0.0.1", port);
  return { transport, inbox, errors, address: `127.0.0.1:${bound.port}` };
}

function introduce(nodes: readonly Node[]): void {
  for (const node of nodes) {
    for (const other of nodes) if (other !== node) node.transport.setPeer(other.transport.nodeId, other.address);
  }
}

function heartbeat(from: number, to: number, commit: number): Message {
  return message({ type: MessageType.Heartbeat, from, to, term: 1, commit });
}

function append(from: number, to: number, entryCount: number, entryBytes: number): Message {
  const entries: Entry[] = Array.from({ length: entryCount }, (_, i) => ({
    index: 1000 + i,
    term: 3,
    type: EntryType.Normal,
    data: randomFillSync(new Uint8Array(entryBytes)),
    timestampMs: i % 2 === 0 ? 1_700_000_000_000 + i : undefined,
  }));
  return message({ type: MessageType.Append, from, to, term: 3, logTerm: 3, index: 999, commit: 990, entries });
}

/** A raw client socket, connected, with a promise for its close. */
async function rawSocket(address: string): Promise<{ socket: Socket; closed: Promise<void> }> {
  const [host, port] = address.split(":");
  const socket = connect({ host: host!, port: Number(port) });
  socket.on("error", () => {});
  socket.on("data", () => {});
  const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
  await new Promise((resolve) => socket.once("connect", resolve));
  return { socket, closed };
}

function frame(bytes: Buffer, announcedBytes = bytes.length): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32LE(announcedBytes);
  return Buffer.concat([header, bytes]);
}

/** Active handles of the kinds a transport creates (sockets, servers, timers), by type name. */
function lingering(): string[] {
  const kinds = new Set(["TCPSocketWrap", "TCPServerWrap", "TCPConnectWrap", "Timeout", "Immediate", "GetAddrInfoReqWrap"]);
  return process.getActiveResourcesInfo().filter((kind) => kinds.has(kind));
}

async function closedWithin(closed: Promise<void>, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what} to close`)), WAIT_MS);
  });
  try {
    await Promise.race([closed, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

async function listenRaw(t: TestContext, onConnection: (socket: Socket) => void, options = {}): Promise<{ server: Server; address: string }> {
  const sockets = new Set<Socket>();
  const server = createServer(options, (socket) => {
    sockets.add(socket);
    socket.on("error", () => {});
    onConnection(socket);
  });
  cleanup(t, async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  assert.ok(address !== null && typeof address === "object");
  return { server, address: `127.0.0.1:${address.port}` };
}

describe("delivery", () => {
  test("two transports exchange messages both ways, in order", async (t) => {
    const [a, b] = [await startNode(t, 1), await startNode(t, 2)];
    introduce([a, b]);
    for (let i = 1; i <= 500; i++) {
      a.transport.send(heartbeat(1, 2, i));
      b.transport.send(heartbeat(2, 1, i));
    }
    await Promise.all([a.inbox.waitFor(500), b.inbox.waitFor(500)]);
    assert.deepEqual(b.inbox.messages.map((m) => m.commit), Array.from({ length: 500 }, (_, i) => i + 1));
    assert.deepEqual(a.inbox.messages.map((m) => m.commit), Array.from({ length: 500 }, (_, i) => i + 1));
    assert.deepStrictEqual(b.inbox.messages[0], heartbeat(1, 2, 1));
    const stats = a.transport.stats();
    assert.equal(stats.messagesSent, 500);
    assert.equal(stats.messagesReceived, 500);
    assert.equal(stats.messagesDropped, 0);
    assert.equal(stats.connectionsOutbound, 1);
    assert.equal(stats.connectionsInbound, 1);
  });

  test("an Append of 1,000 entries of 100 bytes round-trips exactly", async (t) => {
    const [a, b] = [await startNode(t, 1), await startNode(t, 2)];
    introduce([a, b]);
    const sent = append(1, 2, 1000, 100);
    a.transport.send(sent);
    await b.inbox.waitFor(1);
    assert.deepStrictEqual(b.inbox.messages[0], sent);
  });

  test("three transports deliver all-to-all, in order per sender", async (t) => {
    const nodes = [await startNode(t, 1), await startNode(t, 2), await startNode(t, 3)];
    introduce(nodes);
    for (let i = 1; i <= 200; i++) {
      for (const from of nodes) {
        for (const to of nodes) if (to !== from) from.transport.send(heartbeat(from.transport.nodeId, to.transport.nodeId, i));
      }
    }
    await Promise.all(nodes.map((node) => node.inbox.waitFor(400)));
    for (const node of nodes) {
      for (const sender of nodes) {
        if (sender === node) continue;
        const commits = node.inbox.messages.filter((m) => m.from === sender.transport.nodeId).map((m) => m.commit);
        assert.deepEqual(commits, Array.from({ length: 200 }, (_, i) => i + 1));
      }
    }
  });
});

describe("failures", () => {
  test("a receiver that closes and comes back on the same port is redialled", async (t) => {
    const a = await startNode(t, 1);
    const b = await startNode(t, 2);
    introduce([a, b]);
    a.transport.send(heartbeat(1, 2, 1));
    await b.inbox.waitFor(1);
    await b.transport.close();
    await eventually(() => a.transport.stats().connectFailures >= 1, "the sender notices the lost connection");
    assert.ok(a.errors.some((e) => e instanceof PeerUnavailableError && e.peerId === 2));
    // While the receiver is down, sends are dropped (queued ones or during backoff), never thrown.
    for (let i = 0; i < 20; i++) a.transport.send(heartbeat(1, 2, 2));
    const port = Number(b.address.split(":")[1]);
    const revived = await startNode(t, 2, {}, port);
    // Raft resends periodically; this loop plays that part until one send gets through.
    let delivered = false;
    for (let attempt = 0; attempt < 200 && !delivered; attempt++) {
      a.transport.send(heartbeat(1, 2, 3));
      delivered = await revived.inbox.arrived(1, 50);
    }
    assert.ok(delivered, "a message reaches the revived receiver");
    assert.ok(a.transport.stats().messagesDropped > 0);
    assert.equal(a.transport.stats().connectionsOutbound, 1);
  });

  test("a peer that never reads fills a bounded queue, then messages are dropped and counted", async (t) => {
    const queueBytesMax = 1024 * 1024;
    const a = await startNode(t, 1, { queueBytesMax, frameBytesMax: 256 * 1024 });
    const stalled = await listenRaw(t, () => {}, { pauseOnConnect: true });
    a.transport.setPeer(2, stalled.address);
    const big = append(1, 2, 64, 1000);
    let attempted = 0;
    while (a.transport.stats().droppedQueueFull === 0) {
      assert.ok(attempted < 10_000, "the queue limit is reached within 10,000 messages of 64 kB");
      for (let i = 0; i < 8; i++, attempted++) a.transport.send(big);
      assert.ok(a.transport.stats().queuedBytes <= queueBytesMax);
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (let i = 0; i < 100; i++, attempted++) a.transport.send(big);
    const stats = a.transport.stats();
    assert.ok(stats.queuedBytes <= queueBytesMax, `queued ${stats.queuedBytes} bytes`);
    assert.ok(stats.queuedBytes > queueBytesMax / 2, "the queue is what fills, not something else");
    assert.ok(stats.droppedQueueFull >= 100);
    const queued = attempted - stats.messagesSent - stats.droppedQueueFull;
    assert.ok(queued >= 0 && queued * 64_000 <= queueBytesMax, "every message is sent, queued or dropped");
  });

  test("garbage, oversized frames and bad hellos close only their own connection", async (t) => {
    const a = await startNode(t, 1);
    const b = await startNode(t, 2, { frameBytesMax: 64 * 1024 });
    introduce([a, b]);
    a.transport.send(heartbeat(1, 2, 1));
    await b.inbox.waitFor(1);
    const badVersion = encodeHello(5);
    badVersion[1] = TRANSPORT_VERSION + 1;
    const attacks: [string, Buffer][] = [
      ["http request", Buffer.from("GET / HTTP/1.1\r\nHost: x\r\n\r\n")],
      ["unsupported version", badVersion],
      ["oversized frame", Buffer.concat([encodeHello(5), frame(Buffer.alloc(16), 64 * 1024 + 1)])],
      ["garbage frame", Buffer.concat([encodeHello(5), frame(randomFillSync(Buffer.alloc(200)).fill(0xee, 0, 1))])],
      ["message from another sender", Buffer.concat([encodeHello(5), frame(encodeMessage(heartbeat(6, 2, 9)))])],
    ];
    for (const [what, bytes] of attacks) {
      const raw = await rawSocket(b.address);
      raw.socket.write(bytes);
      await closedWithin(raw.closed, what);
    }
    assert.equal(b.transport.stats().connectionsRejected, attacks.length);
    assert.equal(b.errors.filter((e) => e instanceof CodecError).length, attacks.length);
    assert.equal(b.inbox.messages.length, 1, "nothing from the attackers was delivered");
    a.transport.send(heartbeat(1, 2, 2));
    await b.inbox.waitFor(2);
    assert.equal(b.transport.stats().connectionsInbound, 1, "the good connection survived");
  });

  test("repair messages travel beside Raft's; malformed ones close their connection; a node without a repair handler drops them", async (t) => {
    const repairs: RepairMessage[] = [];
    const a = await startNode(t, 1);
    const b = await startNode(t, 2, { onRepairMessage: (m) => repairs.push({ ...m, ...(m.type === "repair-response" ? { frames: Buffer.from(m.frames) } : {}) }) });
    introduce([a, b]);
    const request: RepairMessage = { type: "repair-request", from: 1, to: 2, low: 100, high: 200 };
    const response: RepairMessage = { type: "repair-response", from: 1, to: 2, low: 100, frames: Buffer.from("stored frames") };
    a.transport.sendRepair(request);
    a.transport.send(heartbeat(1, 2, 1));
    a.transport.sendRepair(response);
    await b.inbox.waitFor(1);
    await eventually(() => repairs.length === 2, "both repair messages arrive");
    assert.deepStrictEqual(repairs, [request, response]);
    const emptyRange = encodeRepairMessage({ type: "repair-request", from: 5, to: 2, low: 7, high: 8 });
    emptyRange.writeUInt32LE(7, 1 + 3 * 8);
    const raw = await rawSocket(b.address);
    raw.socket.write(Buffer.concat([encodeHello(5), frame(emptyRange)]));
    await closedWithin(raw.closed, "a repair request for an empty range");
    assert.ok(b.errors.some((e) => e instanceof CodecError && e.reason === "bad-range"));
    b.transport.sendRepair({ type: "repair-request", from: 2, to: 1, low: 1, high: 2 });
    await eventually(() => a.transport.stats().droppedMisaddressed === 1, "the node without a repair handler drops it");
    assert.equal(a.inbox.messages.length, 0);
  });

  test("messages to unknown peers, too large, or addressed to another node are dropped and counted", async (t) => {
    const b = await startNode(t, 2, { frameBytesMax: 64 * 1024 });
    b.transport.send(heartbeat(2, 9, 1));
    assert.equal(b.transport.stats().droppedUnknownPeer, 1);
    b.transport.setPeer(1, "127.0.0.1:1");
    b.transport.send(append(2, 1, 1, 64 * 1024));
    assert.equal(b.transport.stats().droppedTooLarge, 1);
    const raw = await rawSocket(b.address);
    raw.socket.write(Buffer.concat([encodeHello(1), frame(encodeMessage(heartbeat(1, 3, 7))), frame(encodeMessage(heartbeat(1, 2, 8)))]));
    await b.inbox.waitFor(1);
    assert.equal(b.inbox.messages[0]!.commit, 8);
    const stats = b.transport.stats();
    assert.equal(stats.droppedMisaddressed, 1);
    assert.equal(stats.messagesDropped, 3);
    raw.socket.destroy();
  });
});

describe("handover and lifecycle", () => {
  test("a sniffing server hands over sockets whether it consumed, peeked or read only the marker", async (t) => {
    const b = new Inbox();
    const receiver = new RaftTransport({ nodeId: 2, onMessage: b.onMessage });
    cleanup(t, () => receiver.close());
    const handovers: ((socket: Socket) => void)[] = [
      (socket) =>
        socket.once("data", (chunk: Buffer) => {
          if (chunk[0] === 0x01) receiver.acceptConnection(socket, chunk);
          else socket.end("HTTP/1.1 400 Bad Request\r\n\r\n");
        }),
      (socket) =>
        socket.once("readable", () => {
          const first = socket.read(1) as Buffer;
          socket.unshift(first);
          receiver.acceptConnection(socket);
        }),
      (socket) => socket.once("readable", () => receiver.acceptConnection(socket, socket.read(1) as Buffer)),
    ];
    let delivered = 0;
    for (const [i, handover] of handovers.entries()) {
      const sniffer = await listenRaw(t, handover);
      const a = await startNode(t, 10 + i);
      a.transport.setPeer(2, sniffer.address);
      for (let commit = 1; commit <= 3; commit++) a.transport.send(heartbeat(10 + i, 2, commit));
      await b.waitFor((delivered += 3));
      assert.deepEqual(b.messages.slice(-3).map((m) => [m.from, m.commit]), [1, 2, 3].map((c) => [10 + i, c]));
    }
  });

  test("close is idempotent, drops later sends, and leaves no socket or timer behind", async (t) => {
    // Closed handles leave the list a little after their close callbacks, so the check waits for it;
    // the refused peer's 60 s backoff timer would outlast the wait if close() left it running.
    await eventually(() => lingering().length === 0, "earlier tests' handles are gone");
    const slowRedial = { reconnectDelayMs: { min: 60_000, max: 60_000 } };
    const [a, b] = [await startNode(t, 1, slowRedial), await startNode(t, 2)];
    introduce([a, b]);
    a.transport.setPeer(3, "127.0.0.1:1"); // refused: leaves the peer backing off, with a timer
    a.transport.send(heartbeat(1, 3, 1));
    a.transport.send(heartbeat(1, 2, 1));
    await b.inbox.waitFor(1);
    await eventually(() => a.transport.stats().connectFailures >= 1, "the refused dial fails");
    await Promise.all([a.transport.close(), a.transport.close(), b.transport.close()]);
    a.transport.send(heartbeat(1, 2, 2));
    assert.equal(a.transport.stats().droppedUnreachable, 2, "the refused message and the one after close");
    assert.equal(a.transport.stats().connectionsOutbound, 0);
    assert.equal(b.transport.stats().connectionsInbound, 0);
    await eventually(() => lingering().length === 0, "no socket or timer is left");
  });

  test("invalid options and peer addresses are refused with typed errors", () => {
    const onMessage = (): void => {};
    const bad: Partial<RaftTransportOptions>[] = [
      { nodeId: 0 },
      { nodeId: 1.5 },
      { frameBytesMax: 10 },
      { frameBytesMax: 1 << 20, queueBytesMax: 1 << 19 },
      { reconnectDelayMs: { min: 100, max: 10 } },
      { connectTimeoutMs: 0 },
      { unknown: true } as Partial<RaftTransportOptions>,
    ];
    for (const options of bad) {
      assert.throws(() => new RaftTransport({ nodeId: 1, onMessage, ...options }), InvalidConfigError, JSON.stringify(options));
    }
    const transport = new RaftTransport({ nodeId: 1, onMessage });
    for (const address of ["localhost", "localhost:0", "localhost:70000", ":80", "host:80x"]) {
      assert.throws(() => transport.setPeer(2, address), InvalidArgumentError, address);
    }
    transport.setPeer(2, "[::1]:7000");
    assert.throws(() => transport.setPeer(1, "localhost:7000"), assert.AssertionError, "a node is not its own peer");
  });

  test("a changed address moves the peer's connection; a removed peer is unknown", async (t) => {
    const a = await startNode(t, 1);
    const [first, second] = [await startNode(t, 2), await startNode(t, 2)];
    a.transport.setPeer(2, first.address);
    a.transport.send(heartbeat(1, 2, 1));
    await first.inbox.waitFor(1);
    a.transport.setPeer(2, second.address);
    a.transport.send(heartbeat(1, 2, 2));
    await second.inbox.waitFor(1);
    assert.equal(second.inbox.messages[0]!.commit, 2);
    assert.equal(first.inbox.messages.length, 1);
    a.transport.removePeer(2);
    a.transport.send(heartbeat(1, 2, 3));
    assert.equal(a.transport.stats().droppedUnknownPeer, 1);
  });
});
