// What a produce call takes from its caller: the values as they are when the call is made (the caller
// may reuse its array and buffers at once, even while the routing client waits or retries), checked
// to be bytes before anything is encoded or appended; encoded into memory used again from call to
// call (buffer-pool.ts) only once a call is answered OK, so that no request is sent with
// another's bytes; and options spelled exactly.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LoghouseClient } from "../src/client/client.ts";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { InvalidArgumentError, RecordTooLargeError } from "../src/errors.ts";
import { decodeProduceBatchRequest, ProduceBatchMessage, producerFieldBytesMax } from "../src/wire/record-codec.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { cleanup } from "./support/cleanup.ts";

test("concurrent batches, some refused, each store exactly their own records: the single-node client's pooled requests and the routing client's own", async (t) => {
  const server = await startLogServer(t, { limits: { recordBytesMax: 1000 } });
  const single = new LoghouseClient(addressOf(server));
  const routing = new ClusterClient([addressOf(server)]);
  cleanup(t, () => single.close());
  cleanup(t, () => routing.close());
  const expected = new Map<bigint, string>();
  for (const [name, client] of [["single", single], ["routing", routing]] as const) {
    // Eight senders, each sending its next batch (of its own size) as soon as its last is answered,
    // so that batches are encoded while others are in flight; one in three rounds a batch the node
    // refuses goes beside.
    await Promise.all(
      Array.from({ length: 8 }, async (_, b) => {
        for (let round = 0; round < 5; round++) {
          // 20-130 kB a batch, so that most requests are in pooled memory (64 kB or more).
          const values = Array.from({ length: 50 + 37 * b }, (_, i) => `${name} r${round} b${b} #${i} `.padEnd(400, String(b)));
          const refused = (b + round) % 3 === 0 ? assert.rejects(client.produceBatch([Buffer.from("fine"), Buffer.alloc(5000, 0x78)]), RecordTooLargeError) : undefined;
          const first = await client.produceBatch(values.map((value) => Buffer.from(value)));
          await refused;
          values.forEach((value, i) => expected.set(first + BigInt(i), value));
        }
      }),
    );
  }
  const stored = new Map<bigint, string>();
  // The routing client's batches are exactly-once: each follows its producer's batch mark (type 3).
  for await (const record of single.consume()) if (record.type === 0) stored.set(record.offset, Buffer.from(record.value).toString());
  assert.equal(stored.size, expected.size, "nothing but the accepted batches was appended");
  for (const [offset, value] of expected) assert.equal(stored.get(offset), value, `the record at ${offset}`);
});

test("values that are not bytes are refused with InvalidArgumentError and nothing is appended, with either client and the producer", async (t) => {
  const server = await startLogServer(t);
  const single = new LoghouseClient(addressOf(server));
  const routing = new ClusterClient([addressOf(server)]);
  cleanup(t, () => single.close());
  cleanup(t, () => routing.close());
  for (const client of [single, routing]) {
    // Before: a string value was encoded as zeros, appended and acknowledged.
    await assert.rejects(client.produceBatch(["abc"] as never), { name: InvalidArgumentError.name, message: "values[0] must be a Uint8Array, got string" });
    await assert.rejects(client.produceBatch([Buffer.from("ok"), null] as never), { name: InvalidArgumentError.name, message: "values[1] must be a Uint8Array, got null" });
    await assert.rejects(client.produceBatch("abc" as never), { name: InvalidArgumentError.name, message: "values must be an array of Uint8Arrays, got string" });
    await assert.rejects(client.produce({ length: 3 } as never), { name: InvalidArgumentError.name, message: "a record value must be a Uint8Array, got an object of class Object" });
    const producer = client.producer({ lingerMs: 0 });
    await assert.rejects(producer.send("abc" as never), InvalidArgumentError);
    await producer.close();
  }
  assert.equal((await single.offsets()).endOffset, 0n);
});

test("a produce takes its values as they are when it is called, whatever the caller does with them after, with either client and every delivery", async (t) => {
  const server = await startLogServer(t);
  const clients = [
    new LoghouseClient(addressOf(server)),
    ...(["exactly-once", "at-least-once", "at-most-once"] as const).map((produceDelivery) => new ClusterClient([addressOf(server)], { produceDelivery })),
  ];
  for (const client of clients) cleanup(t, () => client.close());
  const expected: string[] = [];
  for (const client of clients) {
    // Before: the routing client read the array and the buffers only once it had a sequence number
    // and a leader, so a batch changed meanwhile stored the change (or nothing of the original).
    const values = [Buffer.from("first"), Buffer.from("second")];
    const batch = client.produceBatch(values);
    values[0]!.write("FIRST");
    values.length = 0;
    values.push(Buffer.from("other"));
    const value = Buffer.from("single");
    const single = client.produce(value);
    value.write("SINGLE");
    await batch;
    await single;
    expected.push("first", "second", "single");
  }
  const stored: string[] = [];
  for await (const record of clients[0]!.consume()) if (record.type === 0) stored.push(Buffer.from(record.value).toString());
  assert.deepEqual(stored, expected);
});

test("a batch message names its producer before its values, with room left for the largest sequence, and decodes to the same request", () => {
  const producerId = Buffer.alloc(16, 7);
  const message = new ProduceBatchMessage([Buffer.from("a"), Buffer.alloc(0), Buffer.from("bc")], producerFieldBytesMax(producerId), Buffer.allocUnsafe);
  for (const producer of [undefined, { producerId, sequence: 0n }, { producerId, sequence: 5n }, { producerId, sequence: 2n ** 64n - 1n }]) {
    const decoded = decodeProduceBatchRequest(message.bytes(producer));
    const { bytes, offsets, lengths } = decoded.values;
    assert.deepEqual(Array.from(lengths, (length, i) => Buffer.from(bytes.subarray(offsets[i]!, offsets[i]! + length)).toString()), ["a", "", "bc"]);
    assert.deepEqual(decoded.producer === undefined ? undefined : [Buffer.from(decoded.producer.producerId), decoded.producer.sequence], producer === undefined ? undefined : [producerId, producer.sequence]);
  }
  assert.throws(() => new ProduceBatchMessage([Buffer.from("a")], 3, Buffer.allocUnsafe).bytes({ producerId, sequence: 1n }), /does not fit/);
});

test("a routing client's choices are spelled exactly: a misspelt delivery guarantee is refused, not weakened", () => {
  assert.throws(() => new ClusterClient(["127.0.0.1:1"], { produceDelivery: "exactly_once" as never }), {
    name: InvalidArgumentError.name,
    message: 'produceDelivery must be one of "exactly-once", "at-least-once", "at-most-once", got "exactly_once" (a string)',
  });
  assert.throws(() => new ClusterClient(["127.0.0.1:1"], { reads: "leaders" as never }), { name: InvalidArgumentError.name, message: /^reads must be one of "followers", "leader", got "leaders"/ });
});
