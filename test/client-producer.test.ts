// The batching producer: records sent close together share a batch, each promise resolves with
// its own offset, batches respect their byte and record bounds and the send order, a failed batch
// rejects its records with the typed error, and the buffer bound is visible to callers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { LoghouseClient } from "../src/client/client.ts";
import { Producer } from "../src/client/producer.ts";
import { LogClosedError, RecordTooLargeError, StorageFullError } from "../src/errors.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { cleanup } from "./support/cleanup.ts";
import { waitUntil } from "./support/wait-until.ts";

/** A stand-in for ProduceBatch: records every batch, answers with consecutive offsets when released. */
function fakeLog() {
  const batches: Uint8Array[][] = [];
  const pending: Array<() => void> = [];
  let next = 0n;
  const send = (values: readonly Uint8Array[]): Promise<bigint> => {
    batches.push([...values]);
    const first = next;
    next += BigInt(values.length);
    return new Promise((resolve) => pending.push(() => resolve(first)));
  };
  const releaseAll = (): void => {
    for (const release of pending.splice(0)) release();
  };
  return { batches, send, releaseAll, inFlight: () => pending.length };
}

const bytes = (text: string): Uint8Array => Buffer.from(text);

test("records sent in one turn travel in one batch; each promise gets its own offset", async () => {
  const log = fakeLog();
  const producer = new Producer(log.send, { lingerMs: 0 });
  const offsets = ["a", "b", "c", "d"].map((text) => producer.send(bytes(text)));
  assert.equal(log.batches.length, 0, "the batch waits for the linger timer");
  const flushed = producer.flush();
  assert.equal(log.batches.length, 1);
  log.releaseAll();
  await flushed;
  assert.deepEqual(await Promise.all(offsets), [0n, 1n, 2n, 3n]);
});

test("batches are cut at batchRecordsMax and batchBytesMax, and only one is in flight by default", async () => {
  const log = fakeLog();
  const producer = new Producer(log.send, { lingerMs: 1000, batchRecordsMax: 3, batchBytesMax: 10 });
  const offsets = Array.from({ length: 7 }, (_, i) => producer.send(bytes(`r${i}`))); // 2 bytes each
  assert.equal(log.batches.length, 1, "the first full batch leaves at once, without lingering");
  assert.equal(log.batches[0]!.length, 3);
  const flushed = producer.flush();
  for (let round = 0; round < 3; round++) {
    assert.equal(log.inFlight(), 1);
    log.releaseAll();
    await new Promise((resolve) => setImmediate(resolve));
  }
  await flushed;
  assert.deepEqual(log.batches.map((batch) => batch.length), [3, 3, 1]);
  assert.deepEqual(await Promise.all(offsets), [0n, 1n, 2n, 3n, 4n, 5n, 6n]);
  assert.deepEqual(log.batches.flat().map((value) => Buffer.from(value).toString()), ["r0", "r1", "r2", "r3", "r4", "r5", "r6"]);

  const bySize = fakeLog();
  const small = new Producer(bySize.send, { lingerMs: 1000, batchBytesMax: 10 });
  void small.send(bytes("123456"));
  void small.send(bytes("123456")); // 12 bytes queued: over the bound, the batch goes
  assert.equal(bySize.batches.length, 1);
  assert.equal(bySize.batches[0]!.length, 1, "a batch stops before the value that would take it over batchBytesMax");
});

test("more batches go in parallel with inFlightBatchesMax; full and drained() bound the buffer", async () => {
  const log = fakeLog();
  const producer = new Producer(log.send, { lingerMs: 1000, batchRecordsMax: 2, inFlightBatchesMax: 3, bufferBytesMax: 8 });
  for (let i = 0; i < 10; i++) void producer.send(bytes("xx"));
  assert.equal(log.inFlight(), 3);
  assert.equal(producer.bufferedBytes, 8);
  assert.equal(producer.full, true);
  let drained = false;
  const waiting = producer.drained().then(() => (drained = true));
  assert.equal(drained, false);
  log.releaseAll();
  await waiting;
  assert.equal(producer.full, false);
  log.releaseAll();
  await new Promise((resolve) => setImmediate(resolve));
  log.releaseAll();
  await producer.close();
  await assert.rejects(producer.send(bytes("late")), LogClosedError);
});

test("stopOnFailure: after a failed batch the queued records fail with its error, nothing more is sent, and later sends are refused", async () => {
  for (const stopOnFailure of [false, true]) {
    const failure = new StorageFullError("the first batch is refused", 28);
    const sent: string[][] = [];
    let release: (() => void) | undefined;
    const producer = new Producer(
      (values) => {
        sent.push(values.map((value) => Buffer.from(value).toString()));
        // The first batch fails once the next records have queued behind it.
        if (sent.length === 1) return new Promise((_, reject) => (release = () => reject(failure)));
        return Promise.resolve(BigInt(sent.length * 10));
      },
      { lingerMs: 0, batchRecordsMax: 2, stopOnFailure },
    );
    const outcomes = ["a", "b", "c", "d"].map((text) => producer.send(bytes(text)).then(String, (error: unknown) => error));
    await waitUntil("the first batch to be in flight", () => release !== undefined);
    release!();
    const settled = await Promise.all(outcomes);
    assert.deepEqual(settled.slice(0, 2), [failure, failure], "the failed batch's records");
    if (stopOnFailure) {
      assert.deepEqual(settled.slice(2), [failure, failure], "the queued records fail with the batch's error");
      assert.deepEqual(sent, [["a", "b"]], "nothing after the failed batch was sent");
      assert.equal(producer.sentRecords, 2, "sentRecords counts the failed batch's records, not the queued ones");
      await assert.rejects(producer.send(bytes("e")), (error: unknown) => error === failure);
    } else {
      assert.deepEqual(sent, [["a", "b"], ["c", "d"]], "without it the producer goes on");
      assert.equal(producer.sentRecords, 4);
    }
    await producer.close();
  }
});

test("against a node: offsets are durable and in send order; a failing batch rejects its records with the typed error", async (t) => {
  const server = await startLogServer(t, { limits: { recordBytesMax: 1000 } });
  const client = new LoghouseClient(addressOf(server));
  cleanup(t, () => client.close());
  const producer = client.producer({ lingerMs: 1 });
  const sent = Array.from({ length: 500 }, (_, i) => producer.send(Buffer.from(`message ${i}`)));
  const offsets = await Promise.all(sent);
  assert.deepEqual(offsets, Array.from({ length: 500 }, (_, i) => BigInt(i)));
  assert.equal(Buffer.from((await client.read(123n)).value).toString(), "message 123");

  // Sent together, the three share a batch, which the node refuses whole for the one over its limit.
  const before = producer.send(Buffer.from("before"));
  const bad = producer.send(Buffer.alloc(5000));
  const after = producer.send(Buffer.from("after"));
  await assert.rejects(bad, RecordTooLargeError);
  // Before, the records that shared its batch failed with it.
  assert.deepEqual([await before, await after], [500n, 501n], "the others are appended, in their order");
  assert.equal((await client.offsets()).endOffset, 502n);
  await producer.close();
});

test("a record over the node's limit fails alone: its batch is sent again in halves, in order; with stopOnFailure the run stops at it", async () => {
  for (const stopOnFailure of [false, true]) {
    const sent: string[][] = [];
    const producer = new Producer(
      (values) => {
        const texts = values.map((value) => Buffer.from(value).toString());
        sent.push(texts);
        if (texts.some((text) => text.length > 3)) return Promise.reject(new RecordTooLargeError("record of 5 bytes exceeds recordBytesMax 3"));
        return Promise.resolve(BigInt(10 * sent.length));
      },
      { lingerMs: 0, stopOnFailure },
    );
    const outcomes = await Promise.all(["a", "b", "large", "c"].map((text) => producer.send(bytes(text)).then(String, (error: unknown) => error)));
    assert.deepEqual(sent.slice(0, 4), [["a", "b", "large", "c"], ["a", "b"], ["large", "c"], ["large"]], "the refused batch, then its halves, and the refused half's, in order");
    assert.deepEqual(outcomes.slice(0, 2), ["20", "21"]);
    assert.ok(outcomes[2] instanceof RecordTooLargeError);
    if (stopOnFailure) {
      assert.equal(outcomes[3], outcomes[2], "stopped at the record over the limit: the next fails with its error");
      assert.equal(sent.length, 4);
      assert.equal(producer.sentRecords, 3);
    } else {
      assert.deepEqual([outcomes[3], sent[4]], ["50", ["c"]]);
      assert.equal(producer.sentRecords, 4);
    }
    await producer.close();
  }
});
