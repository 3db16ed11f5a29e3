// A client's batch requests are encoded into memory used again from call to call (request-buffers.ts):
// only once a call is answered OK, so that no request is sent with another's bytes; and values that
// are not bytes are refused before anything is encoded or appended.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LoghouseClient } from "../src/client/client.ts";
import { ClusterClient } from "../src/client/cluster-client.ts";
import { RequestBuffers } from "../src/client/request-buffers.ts";
import { InvalidArgumentError, RecordTooLargeError } from "../src/errors.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { cleanup } from "./support/cleanup.ts";

test("a buffer given back is taken again by a request it fits; one never given back, or too large, is not", () => {
  const buffers = new RequestBuffers();
  const first = buffers.take(100);
  assert.equal(first.length, 100);
  const second = buffers.take(100);
  assert.notEqual(second.buffer, first.buffer, "a buffer in use is not handed out twice");
  buffers.give(first);
  const again = buffers.take(3000);
  assert.equal(again.length, 3000);
  assert.equal(again.buffer, first.buffer, "the memory given back holds the next request that fits");
  assert.notEqual(buffers.take(100).buffer, first.buffer, "taken again, it is in use");
  const large = buffers.take(5 << 20);
  buffers.give(large);
  assert.notEqual(buffers.take(5 << 20).buffer, large.buffer, "a buffer over the kept size is not kept");
  const many = Array.from({ length: 6 }, () => buffers.take(10));
  for (const buffer of many) buffers.give(buffer);
  const kept = new Set(many.map((buffer) => buffer.buffer));
  const reused = Array.from({ length: 6 }, () => buffers.take(10)).filter((buffer) => kept.has(buffer.buffer));
  assert.equal(reused.length, 4, "at most four buffers are kept");
});

test("concurrent batches, some refused, each store exactly their own records, with either client", async (t) => {
  const server = await startLogServer(t, { limits: { recordBytesMax: 1000 } });
  const single = new LoghouseClient(addressOf(server));
  const routing = new ClusterClient([addressOf(server)]);
  cleanup(t, () => single.close());
  cleanup(t, () => routing.close());
  const expected = new Map<bigint, string>();
  for (const [name, client] of [["single", single], ["routing", routing]] as const) {
    for (let round = 0; round < 5; round++) {
      // Eight batches of different sizes in flight at once, and one the node refuses among them.
      const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 50 + 37 * b }, (_, i) => `${name} r${round} b${b} #${i}`));
      const refused = assert.rejects(client.produceBatch([Buffer.from("fine"), Buffer.alloc(5000, 0x78)]), RecordTooLargeError);
      const firsts = await Promise.all(batches.map((values) => client.produceBatch(values.map((value) => Buffer.from(value)))));
      await refused;
      batches.forEach((values, b) => values.forEach((value, i) => expected.set(firsts[b]! + BigInt(i), value)));
    }
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
