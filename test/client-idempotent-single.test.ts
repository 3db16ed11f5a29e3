// The idempotent producer on a single node, seen by a stock grpc-js client: the same (producer,
// sequence) sent twice (a retry after a lost reply) gets the original's offsets and appends
// nothing, on Produce, ProduceBatch and ProduceStream alike, and after a restart of the node; a
// batch torn off the end of the log by a crash is cut at start; a sequence below the forgotten
// window is FAILED_PRECONDITION with SEQUENCE_TOO_OLD; a batch whose (producer, sequence) the log
// holds with other records (sent first by another client) is SEQUENCE_REUSED, never answered with
// those records' offsets.
import type * as grpc from "@grpc/grpc-js";
import { InterceptingCall, type CallOptions } from "@grpc/grpc-js";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { RpcCode } from "../src/errors.ts";
import { silentLogger, type Logger } from "../src/logger.ts";
import { encodeBatchMark } from "../src/storage/batch-mark.ts";
import { BATCH_MARK_TYPE, Log } from "../src/storage/index.ts";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cleanup } from "./support/cleanup.ts";
import { devCerts } from "./support/dev-certs.ts";
import { flipByte, segmentFile } from "./support/segment-files.ts";
import { grpcTestClient, statusOf, take } from "./support/grpc-log-client.ts";
import { addressOf, startLogServer } from "./support/log-server.ts";
import { tempDir } from "./support/temp-dir.ts";

const values = (...texts: string[]): Buffer[] => texts.map((text) => Buffer.from(text));

test("a batch sent again is answered with its first offsets and appended once, also after a restart", async (t) => {
  const dataDir = await tempDir(t);
  const producer = { producerId: randomBytes(16), sequence: 0n };
  let server = await startLogServer(t, { dataDir });
  let client = grpcTestClient(addressOf(server));
  // Sent twice at once (a retry while the original is in flight): one append, the same answer.
  const [first, again] = await Promise.all([client.unary("produceBatch", { values: values("a", "b"), producer }), client.unary("produceBatch", { values: values("a", "b"), producer })]);
  assert.deepEqual(again, first);
  const one = await client.unary("produce", { record: { value: Buffer.from("c") }, producer: { ...producer, sequence: 1n } });
  assert.equal((await client.unary("produce", { record: { value: Buffer.from("c") }, producer: { ...producer, sequence: 1n } })).offset, one.offset);
  // Unnamed produces are appended as sent, every time.
  const plain = [await client.unary("produce", { record: { value: Buffer.from("d") } }), await client.unary("produce", { record: { value: Buffer.from("d") } })];
  assert.notEqual(plain[0].offset, plain[1].offset);
  client.close();
  await server.close();

  server = await startLogServer(t, { dataDir });
  client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  assert.deepEqual(await client.unary("produceBatch", { values: values("a", "b"), producer }), first, "remembered across a restart (from the marks in the log)");
  const records = (await client.unary("consumeBatch", { offset: 0n, maxRecords: 100 })).records as Array<{ value: Uint8Array; type: number }>;
  const data = records.filter((record) => record.type === 0).map((record) => Buffer.from(record.value).toString());
  assert.deepEqual(data, ["a", "b", "c", "d", "d"]);
  assert.equal(records.filter((record) => record.type === BATCH_MARK_TYPE).length, 2, "one mark per batch, after its records");
});

test("ProduceStream answers a repeated (producer, sequence) with the first offset", async (t) => {
  const server = await startLogServer(t);
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  const producerId = randomBytes(8);
  const stream = client.bidiStream("produceStream");
  const answers = take(stream as grpc.ClientDuplexStream<unknown, { offset: bigint }>, 3);
  for (const sequence of [7n, 8n, 7n]) stream.write({ record: { value: Buffer.from(`s${sequence}`) }, producer: { producerId, sequence } });
  const offsets = (await answers).map((answer) => answer.offset);
  const ended = statusOf(stream);
  stream.end();
  assert.equal((await ended).code, 0);
  assert.equal(offsets[2], offsets[0]);
  assert.notEqual(offsets[1], offsets[0]);
});

test("a sequence at or below the forgotten window is FAILED_PRECONDITION SEQUENCE_TOO_OLD; a bad producer id is INVALID_ARGUMENT", async (t) => {
  const server = await startLogServer(t, { producers: { sequencesPerProducerMax: 2 } });
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  const producerId = randomBytes(16);
  for (const sequence of [0n, 1n, 2n]) await client.unary("produceBatch", { values: values(`v${sequence}`), producer: { producerId, sequence } });
  const error = await client.unary("produceBatch", { values: values("v0"), producer: { producerId, sequence: 0n } }).then(
    () => assert.fail("a sequence older than the window was taken"),
    (failure: grpc.ServiceError) => failure,
  );
  assert.equal(error.code, RpcCode.failedPrecondition);
  assert.equal(error.metadata.get("loghouse-error-code")[0], "SEQUENCE_TOO_OLD");
  await assert.rejects(client.unary("produceBatch", { values: values("x"), producer: { producerId: new Uint8Array(0), sequence: 0n } }), (failure: grpc.ServiceError) => failure.code === RpcCode.invalidArgument);
});

test("a batch under a producer and number the log holds with other records is refused SEQUENCE_REUSED, not acknowledged with their offsets", async (t) => {
  const dataDir = await tempDir(t);
  let server = await startLogServer(t, { dataDir });
  const owner = grpcTestClient(addressOf(server));
  const other = grpcTestClient(addressOf(server));
  const producerId = randomBytes(16);
  await owner.unary("produceBatch", { values: values("mine-0"), producer: { producerId, sequence: 0n } });
  // Another client learns the id (marks are records) and sends the owner's next number first.
  const taken = await other.unary("produceBatch", { values: values("not-mine", "either"), producer: { producerId, sequence: 1n } });
  const reused = (failure: grpc.ServiceError): boolean => failure.code === RpcCode.failedPrecondition && failure.metadata.get("loghouse-error-code")[0] === "SEQUENCE_REUSED";
  await assert.rejects(owner.unary("produceBatch", { values: values("mine-1", "mine-2"), producer: { producerId, sequence: 1n } }), reused, "a batch of other records");
  await assert.rejects(owner.unary("produceBatch", { values: values("not-mine"), producer: { producerId, sequence: 1n } }), reused, "a batch of fewer records");
  await assert.rejects(owner.unary("produce", { record: { value: Buffer.from("mine-1") }, producer: { producerId, sequence: 1n } }), reused, "one record (Produce)");
  // The same records again are a true retry: answered with their offsets.
  assert.deepEqual(await other.unary("produceBatch", { values: values("not-mine", "either"), producer: { producerId, sequence: 1n } }), taken);
  owner.close();
  other.close();
  await server.close();
  // The same after a restart, when the table is rebuilt from the marks in the log.
  server = await startLogServer(t, { dataDir });
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  await assert.rejects(client.unary("produceBatch", { values: values("mine-1", "mine-2"), producer: { producerId, sequence: 1n } }), reused);
  const records = (await client.unary("consumeBatch", { offset: 0n, maxRecords: 100 })).records as Array<{ value: Uint8Array; type: number }>;
  assert.deepEqual(records.filter((record) => record.type === 0).map((record) => Buffer.from(record.value).toString()), ["mine-0", "not-mine", "either"]);
});

test("a ProduceStream record refused by the producers' table, or for its size, ends the stream with nothing after it appended", async (t) => {
  const server = await startLogServer(t, { producers: { sequencesPerProducerMax: 2 }, limits: { recordBytesMax: 1024 } });
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  const producerId = randomBytes(16);
  for (const sequence of [0n, 1n, 2n]) await client.unary("produceBatch", { values: values(`v${sequence}`), producer: { producerId, sequence } });
  const refusals = [
    { record: { value: Buffer.from("r2") }, producer: { producerId, sequence: 0n } }, // SEQUENCE_TOO_OLD
    { record: { value: Buffer.from("r2") }, producer: { producerId: new Uint8Array(0), sequence: 0n } }, // INVALID_ARGUMENT
    { record: { value: Buffer.alloc(2048) } }, // RECORD_TOO_LARGE
  ];
  for (const [i, refused] of refusals.entries()) {
    const before = (await client.unary("getOffsets", {})).endOffset as bigint;
    const stream = client.bidiStream("produceStream");
    const answers = take(stream as grpc.ClientDuplexStream<unknown, { offset: bigint }>, 1);
    const ended = statusOf(stream);
    // All four written at once: the server reads r3 and r4 while r1 and r2 are being appended.
    for (const request of [{ record: { value: Buffer.from("r1") } }, refused, { record: { value: Buffer.from("r3") } }, { record: { value: Buffer.from("r4") } }]) stream.write(request);
    stream.end();
    assert.deepEqual((await answers).map((answer) => answer.offset), [before]);
    assert.notEqual((await ended).code, 0);
    // Before, r3 and r4 were appended too, unanswered: a client sending them again wrote them twice.
    assert.equal((await client.unary("getOffsets", {})).endOffset, before + 1n, `after refusal ${i}`);
  }
});

test("a batch torn off after its mark by a crash is cut when the node starts, and its retry is appended whole", async (t) => {
  const dataDir = await tempDir(t);
  const producer = { producerId: randomBytes(16), sequence: 3n };
  const log = await Log.open(dataDir);
  await log.append(values("before"));
  // The mark promises three records; only one reached the disk.
  await log.append([encodeBatchMark({ ...producer, count: 3 })], { type: BATCH_MARK_TYPE });
  await log.append(values("x"));
  await log.close();

  const errors: Array<{ msg: string; fields?: Record<string, unknown> }> = [];
  const logger: Logger = { ...silentLogger, error: (msg, fields) => void errors.push({ msg, ...(fields === undefined ? {} : { fields }) }) };
  const server = await startLogServer(t, { dataDir }, { logger });
  const client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  assert.deepEqual(await client.unary("getOffsets", {}), { $typeName: "log.v1.GetOffsetsResponse", lowestOffset: 0n, endOffset: 1n }, "cut back to before the mark");
  // Said aloud, with what was removed: were the end of the log damaged after it was acknowledged, these were acknowledged records.
  assert.deepEqual(errors, [
    { msg: "cut a batch torn off the end of the log: its records ended before its mark's count", fields: { removedFromOffset: 1, removedRecords: 2, markCounted: 3, recordsFound: 1, nextOffset: 1 } },
  ]);
  const retried = await client.unary("produceBatch", { values: values("x", "y", "z"), producer });
  assert.deepEqual([retried.firstOffset, retried.count], [2n, 3]);
});

test("a batch refused for a record over the limit leaves no mark: records acknowledged after it survive a restart", async (t) => {
  const input = { dataDir: await tempDir(t), limits: { recordBytesMax: 100 } };
  const producer = { producerId: randomBytes(16), sequence: 0n };
  let server = await startLogServer(t, input);
  let client = grpcTestClient(addressOf(server));
  await assert.rejects(client.unary("produceBatch", { values: [Buffer.alloc(10), Buffer.alloc(101)], producer }), (failure: grpc.ServiceError) => failure.code === RpcCode.resourceExhausted);
  const acknowledged = await client.unary("produce", { record: { value: Buffer.from("after") } });
  client.close();
  await server.close();

  server = await startLogServer(t, input);
  client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  assert.equal(Buffer.from((await client.unary("consume", { offset: acknowledged.offset })).record.value).toString(), "after", "kept across the restart");
  const retried = await client.unary("produceBatch", { values: values("a", "b"), producer });
  assert.deepEqual([retried.firstOffset, retried.count], [acknowledged.offset + 2n, 2], "the batch in bounds is appended after its mark");
});

test("a record damaged on disk near the end of the log does not stop the node from starting: it alone answers DATA_LOSS", async (t) => {
  const dataDir = await tempDir(t);
  const producer = { producerId: randomBytes(16), sequence: 0n };
  let server = await startLogServer(t, { dataDir });
  let client = grpcTestClient(addressOf(server));
  const batch = await client.unary("produceBatch", { values: values("a", "b"), producer });
  const damaged = await client.unary("produce", { record: { value: Buffer.from("damaged-record") } });
  const after = await client.unary("produce", { record: { value: Buffer.from("after") } });
  client.close();
  await server.close();
  const store = segmentFile(dataDir, 0, ".store");
  await flipByte(store, (await readFile(store)).indexOf("damaged-record"));

  // Before, the start-up scan of the producers' marks threw on it: the node would not start at all.
  server = await startLogServer(t, { dataDir });
  client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  const failure = await client.unary("consume", { offset: damaged.offset }).then(() => assert.fail("a damaged record was served"), (error: grpc.ServiceError) => error);
  assert.equal(failure.metadata.get("loghouse-error-code")[0], "DATA_LOSS");
  assert.equal(Buffer.from((await client.unary("consume", { offset: after.offset })).record.value).toString(), "after");
  assert.deepEqual(await client.unary("produceBatch", { values: values("a", "b"), producer }), batch, "the marks around it are still known");
});

test("on a node with an ACL a producer belongs to its principal: two principals' batches under one producer id and number are both appended, each answered with its own on retry, also after a restart", async (t) => {
  const certs = await devCerts(t);
  const dir = await tempDir(t);
  const tokensFile = join(dir, "tokens.json");
  const policyFile = join(dir, "policy.csv");
  await writeFile(tokensFile, JSON.stringify({ "alice-token-0123456789abcdef": "alice", "bob-token-0123456789abcdef": "bob" }));
  await writeFile(policyFile, ["alice", "bob"].flatMap((who) => [`p, ${who}, *, produce`, `p, ${who}, *, consume`]).join("\n") + "\n");
  const input = { dataDir: join(dir, "data"), security: { acl: { modelFile: certs.path("model.conf"), policyFile }, tokensFile } };
  const as = (who: string): CallOptions => ({
    interceptors: [(options, next) => new InterceptingCall(next(options), { start: (metadata, listener, start) => (metadata.set("authorization", `Bearer ${who}-token-0123456789abcdef`), start(metadata, listener)) })],
  });
  const producer = { producerId: randomBytes(16), sequence: 0n };
  let server = await startLogServer(t, input);
  let client = grpcTestClient(addressOf(server));
  const alice = await client.unary("produceBatch", { values: values("a1", "a2"), producer }, as("alice"));
  // Bob through the Connect router (JSON over HTTP/1.1), the same producer id and number.
  const connect = await fetch(`http://${addressOf(server)}/log.v1.Log/ProduceBatch`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer bob-token-0123456789abcdef" },
    body: JSON.stringify({ values: [Buffer.from("b1").toString("base64")], producer: { producerId: producer.producerId.toString("base64"), sequence: "0" } }),
  });
  assert.equal(connect.status, 200, await connect.clone().text());
  const bob = (await connect.json()) as { firstOffset: string; count: number };
  assert.deepEqual([alice.firstOffset, alice.count, BigInt(bob.firstOffset), bob.count], [1n, 2, 4n, 1], "each batch after its own mark");
  const retries = async (): Promise<void> => {
    assert.deepEqual(await client.unary("produceBatch", { values: values("a1", "a2"), producer }, as("alice")), alice);
    assert.equal((await client.unary("produceBatch", { values: values("b1"), producer }, as("bob"))).firstOffset, 4n);
  };
  await retries();
  assert.equal((await client.unary("getOffsets", {}, as("alice"))).endOffset, 5n, "nothing appended twice");
  client.close();
  await server.close();

  server = await startLogServer(t, input);
  client = grpcTestClient(addressOf(server));
  cleanup(t, () => client.close());
  await retries();
  assert.equal((await client.unary("getOffsets", {}, as("bob"))).endOffset, 5n, "the table rebuilt from the marks knows whose each batch is");
});
