// `loghouse produce`: records from FILEs (or stdin) split at --delimiter, and whole files given with
// --file, sent in batches through the producer; prints how many were appended and their offsets as
// JSON, also when a batch fails: it then stops, having appended the records before the input
// position it names (failedRecord), so that a run can be resumed there without sending any twice.
// When the failure leaves the outcome unknown (a deadline, a connection lost mid-call), the records
// from failedRecord through uncertainThrough (the last record sent: those read but still queued
// were never sent) may be in the log as well: it says so rather than promise what it cannot know (a
// new run is a new producer, which the leader cannot tell apart).
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
import { mayHaveAppended } from "../client/retry-policy.ts";
import { UsageError } from "../errors.ts";
import { connectClient, integerFlag, stringFlag, writeLine } from "./client-flags.ts";
import type { Flags } from "./commands.ts";
import { decodeRecord, parseDelimiter, parseInputFormat, splitRecords } from "./record-input.ts";

export async function produce(flags: Flags, files: readonly string[]): Promise<number> {
  const wholeFiles = Array.isArray(flags.file) ? flags.file : [];
  if (wholeFiles.length > 0 && (files.length > 0 || flags.delimiter !== undefined || flags.format !== undefined)) {
    throw new UsageError("--file sends whole files as they are: give no FILE, --delimiter or --format with it");
  }
  const delimiter = parseDelimiter(stringFlag(flags, "delimiter") ?? "\\n");
  const format = parseInputFormat(stringFlag(flags, "format"));
  const lingerMs = integerFlag(flags, "linger-ms", 5);
  const batchBytesMax = integerFlag(flags, "batch-bytes", 1024 * 1024, 1);
  const client = connectClient(flags);
  // Stopped by the first failed batch: the records appended are exactly those before it.
  const producer = client.producer({ lingerMs, batchBytesMax, stopOnFailure: true });
  let records = 0;
  let acknowledgedRecords = 0;
  let first: bigint | undefined;
  let last: bigint | undefined;
  let failure: unknown;
  /** The input position of the first record whose batch failed. */
  let failedRecord: number | undefined;
  const acknowledged = (offset: bigint): void => {
    acknowledgedRecords++;
    if (first === undefined || offset < first) first = offset;
    if (last === undefined || offset > last) last = offset;
  };
  let unsettled = 0;
  let allSettled: (() => void) | undefined;
  const settled = (): void => {
    if (--unsettled === 0) allSettled?.();
  };
  /** Resolves once every record sent has its answer (and is counted). */
  const answered = (): Promise<void> => (unsettled === 0 ? Promise.resolve() : new Promise((resolve) => (allSettled = resolve)));
  const send = async (value: Buffer): Promise<void> => {
    const position = ++records;
    unsettled++;
    producer
      .send(value)
      .then(acknowledged, (error: unknown) => {
        if (failure !== undefined) return;
        failure = error;
        failedRecord = position;
      })
      .finally(settled);
    if (producer.full) await producer.drained();
    if (failure !== undefined) throw failure;
  };
  // What was appended, so that a failed run can be resumed without sending records twice. Records are
  // numbered in the order they were queued, which is the order the producer sends them in.
  const summary = (): Promise<void> => {
    const uncertain = failedRecord !== undefined && mayHaveAppended(failure) ? { uncertainThrough: Math.max(failedRecord, producer.sentRecords) } : {};
    return writeLine(JSON.stringify({ records: acknowledgedRecords, firstOffset: first?.toString() ?? null, lastOffset: last?.toString() ?? null, ...(failedRecord === undefined ? {} : { failedRecord }), ...uncertain }));
  };
  try {
    for (const file of wholeFiles) await send(await readFile(file));
    const inputs: Readable[] = wholeFiles.length > 0 ? [] : files.length === 0 ? [process.stdin] : files.map((file) => createReadStream(file));
    for (const input of inputs) {
      for await (const piece of splitRecords(input, delimiter)) await send(decodeRecord(format, piece, records + 1));
    }
    await producer.close();
    await answered();
    if (failure !== undefined) throw failure;
  } catch (error) {
    // No more is read; what was sent settles first, so that the summary is whole.
    await producer.close().catch(() => undefined);
    await answered();
    await summary();
    throw error;
  } finally {
    client.close();
  }
  await summary();
  return 0;
}
