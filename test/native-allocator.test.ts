// The node's allocator tuning (native/allocator.cc, asked for by `loghouse serve`): with it, a
// megabyte buffer made and dropped again and again is served from memory malloc keeps, instead of
// a fresh mapping faulted in page by page each time. Measured in a child process each way, by its
// minor page faults (/proc/self/stat), over 200 one-megabyte joins of 64 kB chunks. A node whose
// environment sets malloc's thresholds keeps them.
//
// Both children start from glibc's initial mmap threshold (128 kB) held fixed. Left to itself glibc
// raises it as large blocks are freed, but when depends on when V8 frees the buffers (it sweeps
// array buffers on a background thread): untuned runs measured anywhere from 0 to 30 faults per
// join, and a CI run under load failed the comparison so. Held fixed, the untuned run is glibc's
// worst case every time (each buffer a fresh mapping), which is what the tuning exists to prevent.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { join } from "node:path";
import { native } from "../src/storage/native.ts";
import { cleanup } from "./support/cleanup.ts";
import { freePort } from "./support/free-port.ts";
import { startNode, stopNode } from "./support/node-process.ts";
import { tempDir } from "./support/temp-dir.ts";

const JOINS = 200;

function faultsPerJoin(tuned: boolean): number {
  const script = `
    import { native } from ${JSON.stringify(new URL("../src/storage/native.ts", import.meta.url).href)};
    import { readFileSync } from "node:fs";
    const faults = () => Number(readFileSync("/proc/self/stat", "utf8").split(") ")[1].split(" ")[7]);
    if (${tuned} && !native.tuneAllocator(32 << 20, 64 << 20)) throw new Error("not tuned");
    const chunks = Array.from({ length: 16 }, () => Buffer.alloc(65536, 1));
    let kept = Buffer.concat(chunks);
    // The buffers are freed when the collector runs: at fixed points, so that both runs free alike.
    const joins = (count) => { for (let i = 0; i < count; i++) { kept = Buffer.concat(chunks, 1 << 20); if (i % 8 === 7) globalThis.gc(); } };
    joins(32);
    const before = faults();
    joins(${JOINS});
    console.log((faults() - before) / ${JOINS}, kept.length);`;
  const env = { ...process.env, MALLOC_MMAP_THRESHOLD_: String(128 << 10) };
  const run = spawnSync(process.execPath, ["--expose-gc", "--import", "tsx", "--input-type=module", "-e", script], { encoding: "utf8", env });
  assert.equal(run.status, 0, run.stderr);
  return Number(run.stdout.split(" ")[0]);
}

test("tuned, a megabyte buffer made again and again is not faulted in afresh each time", { skip: process.platform !== "linux" || !("glibcVersionRuntime" in (process.report.getReport() as { header: object }).header) }, () => {
  const untuned = faultsPerJoin(false);
  const tuned = faultsPerJoin(true);
  // Here: 257-258 faults per join untuned (a whole fresh megabyte each time), 4-10 tuned (V8's own, collecting every 8 joins).
  assert.ok(tuned < untuned / 4, `tuned: ${tuned} page faults per 1 MB join, untuned ${untuned}`);
});

test("tuneAllocator refuses thresholds that are not positive 32-bit byte counts", () => {
  assert.throws(() => native.tuneAllocator(0, 1 << 20), TypeError);
  assert.throws(() => native.tuneAllocator(1 << 20, 2 ** 31), TypeError);
});

test("a node leaves malloc's thresholds as its operator set them in the environment, and says so", async (t) => {
  const node = await startNode(["--data-dir", join(await tempDir(t), "data"), "--listen", `127.0.0.1:${await freePort()}`], { MALLOC_TRIM_THRESHOLD_: String(8 << 20) });
  cleanup(t, () => stopNode(node));
  const kept = await node.waitForLine((line) => line.msg === "malloc thresholds from the environment are kept; the node's own are not applied");
  assert.ok((kept.variables as string[]).includes("MALLOC_TRIM_THRESHOLD_"));
});
