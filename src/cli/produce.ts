// `loghouse produce`: records from FILEs (or stdin) split at --delimiter, and whole files given with
// --file, sent in batches through the producer; prints how many and their offsets as JSON.
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import type { Readable } from "node:stream";
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
  const batchBytesMax = integerFlag(flags, "batch-bytes", 1024 * 1024) || 1;
  const client = connectClient(flags);
  const producer = client.producer({ lingerMs, batchBytesMax });
  let records = 0;
  let first: bigint | undefined;
  let last: bigint | undefined;
  let failure: unknown;
  const acknowledged = (offset: bigint): void => {
    if (first === undefined || offset < first) first = offset;
    if (last === undefined || offset > last) last = offset;
  };
  const send = async (value: Buffer): Promise<void> => {
    producer.send(value).then(acknowledged, (error: unknown) => (failure ??= error));
    records++;
    if (producer.full) await producer.drained();
    if (failure !== undefined) throw failure;
  };
  try {
    for (const file of wholeFiles) await send(await readFile(file));
    const inputs: Readable[] = wholeFiles.length > 0 ? [] : files.length === 0 ? [process.stdin] : files.map((file) => createReadStream(file));
    for (const input of inputs) {
      for await (const piece of splitRecords(input, delimiter)) await send(decodeRecord(format, piece, records + 1));
    }
    await producer.close();
    if (failure !== undefined) throw failure;
  } finally {
    client.close();
  }
  await writeLine(JSON.stringify({ records, firstOffset: first?.toString() ?? null, lastOffset: last?.toString() ?? null }));
  return 0;
}
