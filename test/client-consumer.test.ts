// The client's reading side and its errors: consume() as an async iterator (once through, or
// following the tail until aborted), consumeBatches(), fetches, lookups, and failures raised as
// the catalogue's classes rather than as transport errors.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LoghouseClient } from "../src/client/client.ts";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { consumeBatches, type AbortOptions, type ConsumeOptions, type RecordSource } from "../src/client/consume-loop.ts";
import { InvalidArgumentError, LogClosedError, OffsetOutOfRangeError, RecordTooLargeError, RpcCode, RpcError } from "../src/errors.ts";
import type { GetOffsetsResponse } from "../src/gen/log/v1/log_pb.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { cleanup } from "./support/cleanup.ts";
import { waitUntil } from "./support/wait-until.ts";

async function connect(t: import("node:test").TestContext, input = {}) {
  const server = await startLogServer(t, input);
  const client = new LoghouseClient(addressOf(server));
  cleanup(t, () => client.close());
  return { server, client };
}

const text = (value: Uint8Array): string => Buffer.from(value).toString();

test("consume() reads from an offset to the end and stops; from 'end' it reads nothing", async (t) => {
  const { client } = await connect(t);
  await client.produceBatch(Array.from({ length: 25 }, (_, i) => Buffer.from(`r${i}`)));
  const seen: string[] = [];
  for await (const record of client.consume({ from: 20n, maxRecords: 2 })) seen.push(`${record.offset}:${text(record.value)}`);
  assert.deepEqual(seen, ["20:r20", "21:r21", "22:r22", "23:r23", "24:r24"]);
  let all = 0;
  for await (const _ of client.consume()) all++;
  assert.equal(all, 25);
  for await (const _ of client.consume({ from: "end" })) assert.fail("nothing after the end");
  const batches: number[] = [];
  for await (const records of client.consumeBatches({ from: 0, maxRecords: 10 })) batches.push(records.length);
  assert.deepEqual(batches, [10, 10, 5]);
});

test("consume({ follow }) waits at the tail for new records and ends quietly on abort", async (t) => {
  const { client } = await connect(t);
  await client.produce(Buffer.from("old"));
  const abort = new AbortController();
  const seen: string[] = [];
  let sending: Promise<bigint> | undefined;
  const reading = (async () => {
    for await (const record of client.consume({ from: "start", follow: true, signal: abort.signal })) {
      seen.push(text(record.value));
      if (seen.length === 1) sending = client.producer({ lingerMs: 0 }).send(Buffer.from("new"));
      if (seen.length === 2) abort.abort();
    }
  })();
  await reading;
  assert.deepEqual(seen, ["old", "new"]);
  assert.equal(await sending, 1n, "its produce is answered too (closing the client would cancel it)");
});

test("a following consume aborted before its stream opens ends at once, with the single-node and the routing client", async (t) => {
  const { server, client } = await connect(t);
  await client.produce(Buffer.from("old"));
  const routing = new ClusterClient([addressOf(server)]);
  cleanup(t, () => routing.close());
  // The abort comes while the consume is still finding its start (an RPC away), before the stream.
  for (const source of [client, routing]) {
    const abort = new AbortController();
    const seen: string[] = [];
    const offsets = source.offsets.bind(source);
    source.offsets = async () => {
      const answer = await offsets();
      abort.abort();
      return answer;
    };
    let ended = false;
    const consuming = (async () => {
      try {
        for await (const record of source.consume({ from: "start", follow: true, signal: abort.signal })) seen.push(text(record.value));
      } finally {
        ended = true;
      }
    })();
    await waitUntil(`${source.constructor.name}'s consume to end`, () => ended);
    await consuming;
    assert.deepEqual(seen, [], source.constructor.name);
  }
});

test("a consume aborted while it waits for an answer ends at once: for its start, for the end it reads to, or for a fetch", async () => {
  // The call under test is never answered: it ends only when the signal it was given aborts, as a
  // client's call is cancelled.
  const cancelledOnly = <T>(options: AbortOptions | undefined): Promise<T> =>
    new Promise<T>((_, reject) => options?.signal?.addEventListener("abort", () => reject(options.signal!.reason)));
  const answered = async (): Promise<GetOffsetsResponse> => ({ lowestOffset: 0n, endOffset: 5n }) as GetOffsetsResponse;
  // A source whose every answer is immediate but the one under test; the abort lands once the
  // consume is waiting for it.
  const cases: Array<[string, ConsumeOptions, (abort: () => void) => Partial<RecordSource>]> = [
    ["its start", { from: "start" }, (abort) => ({ offsets: (options) => (setImmediate(abort), cancelledOnly(options)) })],
    ["the end it reads to", { from: 0n }, (abort) => ({ offsets: (options) => (setImmediate(abort), cancelledOnly(options)) })],
    ["a fetch", { from: 0n }, (abort) => ({ readBatch: (_offset, options) => (setImmediate(abort), cancelledOnly(options)) })],
  ];
  for (const [what, options, waiting] of cases) {
    const abort = new AbortController();
    const source: RecordSource = {
      offsets: answered,
      readBatch: async () => assert.fail(`${what}: no fetch is answered`),
      followBatches: () => assert.fail(`${what}: no consume here follows`),
      ...waiting(() => abort.abort()),
    };
    let ended = false;
    const consuming = (async () => {
      try {
        for await (const _ of consumeBatches(source, { ...options, signal: abort.signal })) assert.fail(`${what}: no record was answered`);
      } finally {
        ended = true;
      }
    })();
    await waitUntil(`${what}: the aborted consume to end`, () => ended);
    await consuming;
    assert.ok(abort.signal.aborted, `${what}: it ended because it was aborted`);
  }
});

test("once aborted, a consume hands out no more records, not even the rest of an array it has received, with either client", async (t) => {
  const { server, client } = await connect(t);
  await client.produceBatch(Array.from({ length: 64 }, (_, i) => Buffer.from(`r${i}`)));
  const routing = new ClusterClient([addressOf(server)]);
  cleanup(t, () => routing.close());
  for (const source of [client, routing]) {
    for (const follow of [false, true]) {
      const what = `${source.constructor.name}, follow ${follow}`;
      // The precondition: the records travel in arrays of more than the three read before the abort.
      for await (const records of source.consumeBatches({ from: 0, maxRecords: 64 })) {
        assert.ok(records.length > 3, `${what}: the first array holds ${records.length} records`);
        break;
      }
      const abort = new AbortController();
      const seen: string[] = [];
      for await (const record of source.consume({ from: 0, maxRecords: 64, follow, signal: abort.signal })) {
        seen.push(text(record.value));
        if (seen.length === 3) abort.abort();
      }
      assert.deepEqual(seen, ["r0", "r1", "r2"], what);
    }
  }
});

test("an array that arrives as the consume is aborted is not handed out", async () => {
  const record = { offset: 0n, value: Buffer.from("late") };
  for (const follow of [false, true]) {
    const abort = new AbortController();
    // The answer comes, but the signal aborts before the consume sees it.
    const source: RecordSource = {
      offsets: async () => ({ lowestOffset: 0n, endOffset: 1n }) as GetOffsetsResponse,
      readBatch: async () => {
        abort.abort();
        return { records: [record], nextOffset: 1n } as never;
      },
      followBatches: async function* () {
        abort.abort();
        yield [record] as never;
      },
    };
    const arrays = [];
    for await (const records of consumeBatches(source, { from: 0n, follow, signal: abort.signal })) arrays.push(records);
    assert.deepEqual(arrays, [], `follow ${follow}`);
  }
});

test("a fetch or an offsets call takes a signal that cancels it, with either client: it rejects with the signal's reason at once", async (t) => {
  const { server, client } = await connect(t);
  const routing = new ClusterClient([addressOf(server)]);
  cleanup(t, () => routing.close());
  for (const source of [client, routing]) {
    const what = source.constructor.name;
    const abort = new AbortController();
    const reason = new Error(`${what}: stopped by the test`);
    // A long poll at the end of the empty log: the node answers when a record comes, or in 20 s.
    const fetching = source.readBatch(0n, { maxWaitMs: 20_000, signal: abort.signal });
    setImmediate(() => abort.abort(reason));
    const started = performance.now();
    await assert.rejects(fetching, (error: unknown) => error === reason, what);
    assert.ok(performance.now() - started < 2_500, `${what}: the fetch ended ${performance.now() - started} ms after its abort`);
    await assert.rejects(source.offsets({ signal: AbortSignal.abort(reason) }), (error: unknown) => error === reason, what);
    assert.equal((await source.offsets()).endOffset, 0n, `${what} still answers`);
  }
});

test("close() ends the calls under way with LogClosedError at once, and every call after it fails the same way, with either client", async (t) => {
  const { server } = await connect(t);
  for (const source of [new LoghouseClient(addressOf(server)), new ClusterClient([addressOf(server)])]) {
    const what = source.constructor.name;
    cleanup(t, () => source.close());
    const { endOffset } = await source.offsets();
    // A following consume waiting at the tail, and a long poll there (the node answers in 20 s).
    const following = (async () => {
      for await (const _ of source.consume({ from: "end", follow: true })) assert.fail(`${what}: no record was produced`);
    })();
    const polling = source.readBatch(endOffset, { maxWaitMs: 20_000 });
    const producer = source.producer({ lingerMs: 50 });
    const queued = producer.send(Buffer.from("queued"));
    await waitUntil(`${what}: the node to hold both calls`, () => server.streamsOpen >= 2);
    const closedAt = performance.now();
    source.close();
    const isClosed = (error: unknown): boolean => error instanceof LogClosedError && /client is closed/.test(error.message);
    // Before: they failed only once the connection's keepalive did (about 5 s), as untyped UNAVAILABLE.
    await assert.rejects(following, isClosed, `${what}: the following consume`);
    await assert.rejects(polling, isClosed, `${what}: the long poll`);
    assert.ok(performance.now() - closedAt < 2_000, `${what}: they ended ${Math.round(performance.now() - closedAt)} ms after close()`);
    // Before: a plain Error ("Channel has been shut down"), not a LoghouseError.
    await assert.rejects(queued, isClosed, `${what}: a record queued in a producer`);
    await assert.rejects(source.produce(Buffer.from("late")), isClosed, `${what}: produce`);
    await assert.rejects(source.offsets(), isClosed, `${what}: offsets`);
    await assert.rejects(source.consume().next(), isClosed, `${what}: consume`);
  }
});

test("a from that cannot be an offset is refused, with or without an aborted signal", async (t) => {
  const { client } = await connect(t);
  for (const signal of [undefined, AbortSignal.abort()]) {
    await assert.rejects(async () => {
      for await (const _ of client.consume({ from: -1, signal })) assert.fail("nothing is read");
    }, InvalidArgumentError);
  }
});

test("read arguments that are not offsets, times or bounds are refused with InvalidArgumentError before any call, with either client", async (t) => {
  const { server, client } = await connect(t);
  const routing = new ClusterClient([addressOf(server)]);
  cleanup(t, () => routing.close());
  const drain = async (iterable: AsyncIterable<unknown>): Promise<void> => {
    for await (const _ of iterable) assert.fail("nothing is read");
  };
  for (const source of [client, routing]) {
    // Before: RpcError "serialization failure", RangeError or SyntaxError, or (from "") a read from 0.
    const calls: Array<[string, () => Promise<unknown>, RegExp]> = [
      ["read(-1)", () => source.read(-1), /^offset must be an integer from 0 to 2\^64 - 1, got -1$/],
      ["read(1.5)", () => source.read(1.5), /got 1.5/],
      ['read("abc")', () => source.read("abc" as never), /got "abc" \(a string\)/],
      ["read(2^64)", () => source.read(2n ** 64n), /got 18446744073709551616/],
      ["readBatch maxRecords -1", () => source.readBatch(0, { maxRecords: -1 }), /^maxRecords must be an integer from 0 to 4294967295, got -1$/],
      ["readBatch maxBytes 2^32", () => source.readBatch(0, { maxBytes: 2 ** 32 }), /^maxBytes must be/],
      ["readBatch maxWaitMs 2.5", () => source.readBatch(0, { maxWaitMs: 2.5 }), /^maxWaitMs must be/],
      ["offsetForTimestamp(-1)", () => source.offsetForTimestamp(-1), /^timestampMs must be/],
      ['consume from "latest"', () => drain(source.consume({ from: "latest" as never })), /^from must be an offset, "start" or "end", got "latest"$/],
      ['consume from ""', () => drain(source.consume({ from: "" as never })), /^from must be an offset/],
      ["consume maxRecords -1", () => drain(source.consume({ maxRecords: -1 })), /^maxRecords must be/],
      ["follow from 2^64", () => drain(source.consume({ from: 2n ** 64n, follow: true })), /^from must be/],
    ];
    for (const [what, call, message] of calls) await assert.rejects(call(), (error: unknown) => error instanceof InvalidArgumentError && message.test(error.message), `${source.constructor.name}: ${what}`);
  }
});

test("failures are the catalogue's typed errors", async (t) => {
  const { client } = await connect(t, { limits: { recordBytesMax: 100 } });
  await client.produce(Buffer.from("x"));
  await assert.rejects(client.read(5n), (error: unknown) => error instanceof OffsetOutOfRangeError && error.offset === 5n && error.rpcCode === RpcCode.outOfRange);
  await assert.rejects(client.read(2n ** 64n - 1n), (error: unknown) => error instanceof OffsetOutOfRangeError && error.offset === 2n ** 64n - 1n);
  await assert.rejects(client.produce(Buffer.alloc(101)), RecordTooLargeError);
  await assert.rejects(async () => {
    for await (const _ of client.consume({ from: 7n })) assert.fail("no records");
  }, OffsetOutOfRangeError);
  await assert.rejects(async () => {
    for await (const _ of client.consume({ from: 7n, follow: false })) assert.fail("no records");
  }, OffsetOutOfRangeError);
  const nowhere = new LoghouseClient("127.0.0.1:1");
  cleanup(t, () => nowhere.close());
  await assert.rejects(nowhere.offsets(), (error: unknown) => error instanceof RpcError && error.rpcCode === RpcCode.unavailable);
});

test("offsetForTimestamp, offsets, servers and health through the client", async (t) => {
  let now = 5_000;
  const { client, server } = await connect(t, { log: { clock: () => now } });
  await client.produce(Buffer.from("a"));
  now = 6_000;
  await client.produce(Buffer.from("b"));
  assert.deepEqual([(await client.offsetForTimestamp(5_500)).offset, (await client.offsetForTimestamp(5_500)).found], [1n, true]);
  assert.equal((await client.offsetForTimestamp(7_000)).found, false);
  assert.equal((await client.offsets()).endOffset, 2n);
  assert.deepEqual((await client.servers()).map((s) => s.rpcAddr), [addressOf(server)]);
  assert.equal(await client.healthStatus(), "SERVING");
  assert.equal((await client.readBatch(0, { maxRecords: 1 })).records.length, 1);
});
