// Crash safety. A child process appends durably from several loops and sometimes truncates, drops
// old segments or resets the log (test/support/crash-appender.ts); it runs under the power-loss
// model (test/support/power-loss.ts) and is SIGKILLed at a random moment. After each kill two
// states must hold everything acknowledged, byte for byte, at its offset, and nothing from before an
// acknowledged truncation or reset: the directory as the process left it (a process crash), and
// the directory as a power loss would have left it at several moments of the run, where only what
// was fsynced survives. The next run continues from the power-loss state.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { DataLossError } from "../src/errors.ts";
import { FULL_HEADER_BYTES, Log } from "../src/storage/index.ts";
import { flipByte, segmentFile } from "./support/segment-files.ts";
import { CRASH_LOG_CONFIG, epochOf } from "./support/crash-appender.ts";
import { powerLossPoints, powerLossUnavailable, readFiles, spawnTraced, writeFiles, type PowerLossPoint } from "./support/power-loss.ts";
import { tempDir } from "./support/temp-dir.ts";
import { TestRandom } from "./support/test-random.ts";

const KILLS = 25;
const POINTS_PER_KILL = 4;
const CHILD = fileURLToPath(new URL("./support/crash-appender.ts", import.meta.url));
const STARTUP_TIMEOUT_MS = 60_000;

type Pending = { readonly kind: "t" | "d" | "r"; readonly offset: number } | undefined;

/** What the log must hold, replayed from the appender's lines. */
class Expected {
  private constructor(
    private lowest: number,
    private end: number,
    private readonly values: Map<number, string>,
    private epoch: number,
    private pending: Pending = undefined,
  ) {}

  /** Everything a verified log holds, with records from `epoch` on expected after it. */
  static of(log: Log, epoch: number): Expected {
    const values = new Map<number, string>();
    for (let offset = log.lowestOffset; offset < log.nextOffset; offset++) values.set(offset, log.read(offset).value.toString("hex"));
    return new Expected(log.lowestOffset, log.nextOffset, values, epoch);
  }

  copy(): Expected {
    return new Expected(this.lowest, this.end, new Map(this.values), this.epoch, this.pending);
  }

  apply(line: string): void {
    const [kind, first, hexes] = line.split(" ") as [string, string, string | undefined];
    const offset = Number(first);
    if (kind === "A") {
      (hexes ?? "").split(",").forEach((hex, i) => this.values.set(offset + i, hex));
      this.end = Math.max(this.end, offset + (hexes ?? "").split(",").length);
    } else if (kind === "t" || kind === "d" || kind === "r") {
      this.pending = { kind, offset };
    } else if (kind === "T" || kind === "R") {
      if (kind === "R") this.lowest = offset;
      this.end = kind === "T" ? offset + 1 : offset;
      for (const key of this.values.keys()) if (key >= this.end) this.values.delete(key);
      this.epoch++;
      this.pending = undefined;
    } else if (kind === "D") {
      this.lowest = offset;
      this.pending = undefined;
    }
    for (const key of this.values.keys()) if (key < this.lowest) this.values.delete(key);
  }

  /** Checks a reopened log against what was acknowledged; `what` names the state in messages. */
  check(log: Log, what: string): void {
    const { lowestOffset: low, nextOffset: next } = log;
    const pending = this.pending;
    if (pending?.kind === "r" && low === pending.offset && next === low) return;
    if (pending?.kind === "d") assert.ok(low >= this.lowest && low <= Math.max(this.lowest, pending.offset), `${what}: lowest offset ${low} after a drop to ${pending.offset}`);
    else assert.equal(low, this.lowest, `${what}: lowest offset`);
    const endMin = pending?.kind === "t" ? Math.min(this.end, pending.offset + 1) : this.end;
    assert.ok(next >= endMin, `${what}: the log ends at ${next}, before acknowledged records (${endMin})`);
    for (let offset = low; offset < next; offset++) {
      let value: Buffer;
      try {
        value = log.read(offset).value;
      } catch (error) {
        if (error instanceof DataLossError) assert.fail(`${what}: record ${offset} is damaged: ${error.message}`);
        throw error;
      }
      const acknowledged = this.values.get(offset);
      if (acknowledged !== undefined) assert.equal(value.toString("hex"), acknowledged, `${what}: record ${offset}`);
      else assert.ok(epochOf(value) >= this.epoch, `${what}: record ${offset} is from epoch ${epochOf(value)}, before the acknowledged epoch ${this.epoch}`);
    }
  }
}

/** Runs the appender under strace until it has printed `linesBeforeKill` lines, then SIGKILLs it; returns its lines. */
async function runAndKill(dir: string, traceFile: string, epoch: number, seed: number, linesBeforeKill: number): Promise<string[]> {
  const child = spawnTraced(traceFile, ["--import", "tsx", CHILD, dir, "run", String(epoch), String(seed)]);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  let pid = 0;
  const timer = setTimeout(() => (pid > 0 ? process.kill(pid, "SIGKILL") : child.kill("SIGKILL")), STARTUP_TIMEOUT_MS);
  const lines: string[] = [];
  let tail = "";
  for await (const chunk of child.stdout!.setEncoding("utf8")) {
    // A write to a full pipe can be partial, and the kill can come before the rest of it: only
    // whole lines are acknowledgements.
    const parts = `${tail}${chunk as string}`.split("\n");
    tail = parts.pop()!;
    for (const line of parts) {
      if (line.startsWith("ready ")) {
        pid = Number(line.split(" ")[1]);
        continue;
      }
      lines.push(line);
      if (lines.length === linesBeforeKill) process.kill(pid, "SIGKILL");
    }
  }
  await exited;
  clearTimeout(timer);
  assert.ok(pid > 0 && lines.length >= linesBeforeKill, `child printed ${lines.length} of ${linesBeforeKill} lines before it ended`);
  return lines;
}

/** Opens the log in `dir`, checks it against `expected`, and returns what it holds. */
async function checkDirectory(dir: string, expected: Expected, what: string, epoch: number): Promise<Expected> {
  const log = await Log.open(dir, CRASH_LOG_CONFIG);
  try {
    expected.check(log, what);
    return Expected.of(log, epoch);
  } finally {
    await log.close();
  }
}

async function checkPowerLoss(point: PowerLossPoint, expected: Expected, what: string, epoch: number): Promise<Expected> {
  const scratch = await mkdtemp(join(tmpdir(), "loghouse-power-loss-"));
  try {
    await writeFiles(scratch, point.files);
    const state = expected.copy();
    // The point can fall between the two halves of a partial write: the unfinished last line is left out.
    for (const line of point.output.split("\n").slice(0, -1)) if (line !== "" && !line.startsWith("ready")) state.apply(line);
    return await checkDirectory(scratch, state, what, epoch);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

const unavailable = powerLossUnavailable();

test(`no acknowledged record is lost or outlived by a stale one across ${KILLS} SIGKILLs and power losses`, { timeout: 900_000, skip: unavailable }, async (t) => {
  const random = TestRandom.forTest(t);
  const dir = await tempDir(t);
  const traceFile = join(await tempDir(t), "trace");
  let epoch = 0;
  let expected = await emptyExpected(dir);
  for (let kill = 0; kill < KILLS; kill++) {
    const initial = await readFiles(dir);
    const lines = await runAndKill(dir, traceFile, epoch, random.seed + kill, random.int(1, 150));
    const points = powerLossPoints(await readFile(traceFile, "utf8"), dir, initial);
    assert.ok(points.length > 0, "the trace holds the appender's output");
    const afterProcessCrash = expected.copy();
    for (const line of lines) afterProcessCrash.apply(line);
    await checkDirectory(dir, afterProcessCrash, `after kill ${kill}`, epoch);
    const chosen = [points.length - 1, ...Array.from({ length: POINTS_PER_KILL - 1 }, () => random.int(0, points.length))];
    for (const at of chosen) await checkPowerLoss(points[at]!, expected, `power loss after output line ${at} of kill ${kill}`, epoch);
    // Go on from the power loss at the last line: only what was synced then survives.
    const last = points[points.length - 1]!;
    await writeFiles(dir, last.files);
    epoch += 1_000;
    expected = await checkPowerLoss(last, expected, `power loss at the end of kill ${kill}`, epoch);
  }
});

test("a power loss after a truncation and new acknowledged appends never brings the removed segments back", { timeout: 120_000, skip: unavailable }, async (t) => {
  const dir = await tempDir(t);
  const traceFile = join(await tempDir(t), "trace");
  const lines = await runToExit(traceFile, [dir, "truncate-then-append"]);
  // The points at the end of a line (a line written in two parts has a point between them, left out).
  const points = powerLossPoints(await readFile(traceFile, "utf8"), dir, new Map()).filter((point) => point.output.endsWith("\n"));
  const expected = await emptyExpected(await tempDir(t));
  const truncatedAt = lines.indexOf("T 9");
  // One point per line written, the first after "ready".
  assert.ok(truncatedAt > 0 && points.length === lines.length + 1, "every line of the script has its power-loss point");
  for (let at = truncatedAt; at < lines.length; at++) await checkPowerLoss(points[at + 1]!, expected, `power loss after line ${at} (${lines[at]})`, 0);
});

test("a power loss at any moment of a repair leaves the damaged record or its healthy copy, and every other record", { timeout: 120_000, skip: unavailable }, async (t) => {
  const [dir, healthyDir] = [await tempDir(t), await tempDir(t)];
  for (const path of [dir, healthyDir]) {
    const log = await Log.open(path, CRASH_LOG_CONFIG);
    for (let i = 0; i < 150; i++) await log.append([Buffer.from(`record-${i}`)], { timestampMs: 1000 + i });
    await log.close();
  }
  const damaged = 70;
  await flipByte(segmentFile(dir, 64, ".store"), (damaged - 64) * (FULL_HEADER_BYTES + "record-70".length) + FULL_HEADER_BYTES + 2);
  const initial = await readFiles(dir);
  const traceFile = join(await tempDir(t), "trace");
  const lines = await runToExit(traceFile, [dir, "repair-from", healthyDir, String(damaged)]);
  assert.deepEqual(lines.map((line) => line.split(" ")[0]), ["repaired", "A"]);
  const points = powerLossPoints(await readFile(traceFile, "utf8"), dir, initial, true);
  for (const [at, point] of points.entries()) {
    const scratch = await tempDir(t);
    await writeFiles(scratch, point.files);
    const log = await Log.open(scratch, CRASH_LOG_CONFIG);
    try {
      const repaired = point.output.includes("repaired\n");
      assert.ok(log.nextOffset >= 150, `point ${at}: every record is still there`);
      for (let i = 0; i < 150; i++) {
        // Until the repair is acknowledged the damaged record may read either way; after, it must be whole.
        if (i === damaged && !repaired) assert.ok([undefined, `record-${i}`].includes(readOrDataLoss(log, i)), `point ${at}: record ${i} is damaged or whole`);
        else assert.equal(log.read(i).value.toString(), `record-${i}`, `point ${at}: record ${i}`);
      }
    } finally {
      await log.close();
    }
  }
});

/** The record's value as text, or undefined when it reads as DataLossError. */
function readOrDataLoss(log: Log, offset: number): string | undefined {
  try {
    return log.read(offset).value.toString();
  } catch (error) {
    if (error instanceof DataLossError) return undefined;
    throw error;
  }
}

/** Runs the appender under strace with `args` until it exits by itself; returns its lines. */
async function runToExit(traceFile: string, args: readonly string[]): Promise<string[]> {
  const child = spawnTraced(traceFile, ["--import", "tsx", CHILD, ...args]);
  const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
  const lines: string[] = [];
  for await (const line of createInterface({ input: child.stdout! })) if (!line.startsWith("ready ")) lines.push(line);
  assert.equal(await exited, 0, "the scripted appender exits cleanly");
  return lines;
}

async function emptyExpected(dir: string): Promise<Expected> {
  const log = await Log.open(dir, CRASH_LOG_CONFIG);
  try {
    return Expected.of(log, 0);
  } finally {
    await log.close();
  }
}
