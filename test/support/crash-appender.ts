// Child process for the crash tests: appends batches durably from several concurrent loops, and
// between rounds of appends sometimes truncates, drops old segments or resets, until it is killed.
// It prints one line per step, in the order they happen:
//   `A <firstOffset> <value>,<value>,...` (hex) once a batch is acknowledged,
//   `t <offset>` / `T <offset>` before / after truncateAfter(offset),
//   `d <offset>` / `D <lowestOffset>` before / after dropBefore(offset),
//   `r <offset>` / `R <offset>` before / after resetTo(offset).
// Each value starts with the epoch (u32, little-endian) it was written in: `epoch` from the command
// line, plus one per truncation or reset, so a record from before a truncation is told apart. Its
// choices come from the seed on the command line (their interleaving with the disk still varies).
import { Log, type LogConfig } from "../../src/storage/index.ts";
import { TestRandom } from "./test-random.ts";

export const CRASH_LOG_CONFIG: Partial<LogConfig> = { indexEntriesMax: 64, storeBytesMax: 16 * 1024, recordBytesMax: 512, batchBytesMax: 1 << 16 };
const APPENDERS = 4;

/** The epoch a value was written in. */
export function epochOf(value: Buffer): number {
  return value.readUInt32LE(0);
}

async function main(directory: string, firstEpoch: number, random: TestRandom): Promise<void> {
  const log = await Log.open(directory, CRASH_LOG_CONFIG);
  let epoch = firstEpoch;
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const appendSome = async (batches: number): Promise<void> => {
    for (let i = 0; i < batches; i++) {
      const values = Array.from({ length: random.int(1, 9) }, () => {
        const value = random.bytes(4 + random.int(0, 300));
        value.writeUInt32LE(epoch, 0);
        return value;
      });
      const first = await log.append(values);
      say(`A ${first} ${values.map((v) => v.toString("hex")).join(",")}`);
    }
  };
  say(`ready ${process.pid}`);
  for (;;) {
    await Promise.all(Array.from({ length: APPENDERS }, () => appendSome(random.int(1, 12))));
    const choice = random.int(0, 12);
    if (choice === 0) {
      const offset = Math.max(log.lowestOffset - 1, log.nextOffset - 1 - random.int(0, 120));
      say(`t ${offset}`);
      await log.truncateAfter(offset);
      epoch++;
      say(`T ${offset}`);
    } else if (choice === 1) {
      const offset = log.lowestOffset + random.int(0, 200);
      say(`d ${offset}`);
      say(`D ${await log.dropBefore(offset)}`);
    } else if (choice === 2 && random.int(0, 3) === 0) {
      const offset = log.nextOffset + random.int(0, 50);
      say(`r ${offset}`);
      await log.resetTo(offset);
      epoch++;
      say(`R ${offset}`);
    }
  }
}

/**
 * Finding 3 of issue 9, scripted: three segments of records, a truncation back into the first,
 * then new records acknowledged one by one, then a clean exit. A power loss after any of the new
 * acknowledgements must not bring the removed segments back.
 */
async function truncateThenAppend(directory: string): Promise<void> {
  const log = await Log.open(directory, CRASH_LOG_CONFIG);
  const say = (line: string): void => void process.stdout.write(`${line}\n`);
  const record = (epoch: number, i: number): Buffer => {
    const value = Buffer.alloc(8);
    value.writeUInt32LE(epoch, 0);
    value.writeUInt32LE(i, 4);
    return value;
  };
  say(`ready ${process.pid}`);
  for (let i = 0; i < 3 * 64; i++) say(`A ${await log.append([record(0, i)])} ${record(0, i).toString("hex")}`);
  say("t 9");
  await log.truncateAfter(9);
  say("T 9");
  for (let i = 0; i < 20; i++) say(`A ${await log.append([record(1, i)])} ${record(1, i).toString("hex")}`);
  await log.close();
}

/**
 * Repair, scripted: replaces the damaged record `offset` with the healthy copy's (a directory the
 * power-loss model does not watch), prints `repaired`, then appends one record and prints it.
 */
async function repairFrom(directory: string, healthyDirectory: string, offset: number): Promise<void> {
  const log = await Log.open(directory, CRASH_LOG_CONFIG);
  const healthy = await Log.open(healthyDirectory, CRASH_LOG_CONFIG);
  process.stdout.write(`ready ${process.pid}\n`);
  await log.replaceRange(offset, healthy.readFrames(offset, { countMax: 1 }).frames);
  process.stdout.write("repaired\n");
  const value = healthy.read(healthy.highestOffset!).value;
  process.stdout.write(`A ${await log.append([value])} ${value.toString("hex")}\n`);
  await Promise.all([log.close(), healthy.close()]);
}

// node crash-appender.ts DIR run EPOCH SEED | DIR truncate-then-append | DIR repair-from HEALTHY_DIR OFFSET
if (process.argv[1] === new URL(import.meta.url).pathname) {
  const [directory, mode, first, second] = process.argv.slice(2) as [string, string, string, string];
  if (mode === "run") await main(directory, Number(first), new TestRandom(Number(second)));
  else if (mode === "truncate-then-append") await truncateThenAppend(directory);
  else if (mode === "repair-from") await repairFrom(directory, first, Number(second));
  else throw new Error(`unknown mode ${mode}`);
}
