// Crash safety: a child process appends durably in a loop and is killed with SIGKILL at a random
// moment (after a random number of acknowledgements, while other appends are in flight). After
// every kill the reopened log must hold every acknowledged record, byte for byte, at its offset,
// and the next append must continue the sequence.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { createInterface } from "node:readline";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { Log } from "../src/storage/index.ts";
import { tempDir } from "./support/temp-dir.ts";

const KILLS = 50;
const CHILD = fileURLToPath(new URL("./support/crash-appender.ts", import.meta.url));
const STARTUP_TIMEOUT_MS = 30_000;

/** Runs the appender until it has acknowledged `acksBeforeKill` batches, then SIGKILLs it. */
async function runAndKill(dir: string, acksBeforeKill: number, acked: Map<number, string>): Promise<void> {
  const child = spawn(process.execPath, ["--import", "tsx", CHILD, dir], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const timer = setTimeout(() => child.kill("SIGKILL"), STARTUP_TIMEOUT_MS);
  let acks = 0;
  let ready = false;
  for await (const line of createInterface({ input: child.stdout })) {
    if (line.startsWith("ready")) {
      ready = true;
      continue;
    }
    const [first, hexValues] = line.split(" ");
    (hexValues ?? "").split(",").forEach((hex, i) => acked.set(Number(first) + i, hex));
    if (++acks === acksBeforeKill) child.kill("SIGKILL");
  }
  await exited;
  clearTimeout(timer);
  assert.ok(ready && acks >= acksBeforeKill, `child acknowledged ${acks} of ${acksBeforeKill} batches before it ended`);
}

test(`no acknowledged record is lost across ${KILLS} SIGKILLs`, { timeout: 600_000 }, async (t) => {
  const dir = await tempDir(t);
  const acked = new Map<number, string>();
  for (let kill = 0; kill < KILLS; kill++) {
    await runAndKill(dir, randomInt(1, 120), acked);
    const log = await Log.open(dir, { indexEntriesMax: 64, storeBytesMax: 16 * 1024, recordBytesMax: 512 });
    try {
      for (const [offset, hex] of acked) {
        assert.equal(log.read(offset).value.toString("hex"), hex, `record ${offset} after kill ${kill}`);
      }
      const next = log.nextOffset;
      assert.ok(next >= Math.max(...acked.keys()) + 1);
      assert.equal(await log.append([Buffer.from("after-crash")]), next, "the next append continues the sequence");
      acked.set(next, Buffer.from("after-crash").toString("hex"));
    } finally {
      await log.close();
    }
  }
});
