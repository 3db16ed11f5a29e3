// Child process for the crash test: appends batches durably from several concurrent loops until it
// is killed, printing one line per acknowledged batch: `<firstOffset> <value>,<value>,...` (hex).
// Values are random so that a record at the wrong offset or with damaged bytes is detected.
import { randomBytes, randomInt } from "node:crypto";
import { Log } from "../../src/storage/index.ts";

const [directory] = process.argv.slice(2);
const log = await Log.open(directory!, { indexEntriesMax: 64, storeBytesMax: 16 * 1024, recordBytesMax: 512, batchBytesMax: 1 << 16 });
const APPENDERS = 4;

async function appendForever(): Promise<never> {
  for (;;) {
    const values = Array.from({ length: randomInt(1, 9) }, () => randomBytes(randomInt(0, 300)));
    const first = await log.append(values);
    process.stdout.write(`${first} ${values.map((v) => v.toString("hex")).join(",")}\n`);
  }
}

process.stdout.write(`ready ${log.nextOffset}\n`);
await Promise.all(Array.from({ length: APPENDERS }, appendForever));
