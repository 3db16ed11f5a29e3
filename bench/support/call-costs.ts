// Counts what one call costs a node beyond CPU time: the asynchronous resources it creates (promises
// among them, each a microtask hop when it settles; HTTP/2 streams, ticks, timers, the storage
// tasks) and the bytes it allocates on V8's heap. A node runs in this process, a stock grpc-js client
// (bench/support/stock-grpc-js-client.ts) in a child, so that only the node's side is counted; a
// warm-up run comes first. The findings are in bench/stock-clients.ts's header.
//
//   node --expose-gc --max-semi-space-size=256 --import tsx bench/support/call-costs.ts [--mode unary|produce-stream] [--concurrency 1] [--seconds 2]
//
// The young generation is made large enough that no collection runs in the counted window (checked:
// a window with one says so), so the heap's growth over it is what the calls allocated.
import { createHook } from "node:async_hooks";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { parseArgs } from "node:util";
import { getHeapStatistics } from "node:v8";
import { LoghouseServer } from "../../src/server/server.ts";
import { waitUntil } from "../../test/support/wait-until.ts";
import { runStockClient } from "./stock-client-run.ts";

const { values: options } = parseArgs({
  options: { mode: { type: "string", default: "unary" }, concurrency: { type: "string", default: "1" }, seconds: { type: "string", default: "2" } },
});
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) {
  console.error("run with node --expose-gc (see the header)");
  process.exit(2);
}
const modeArgs = options.mode === "unary" ? ["--mode", "unary", "--concurrency", options.concurrency!] : ["--mode", options.mode!];
const settings = { seconds: Number(options.seconds), recordBytes: 100 };
const dataDir = mkdtempSync(join(tmpdir(), "loghouse-call-costs-"));
const server = await LoghouseServer.start({ port: 0, dataDir });
const address = `127.0.0.1:${server.address.port}`;
try {
  await runStockClient("grpc-js", address, modeArgs, settings);
  const created = new Map<string, number>();
  const hook = createHook({ init: (_id, type) => created.set(type, (created.get(type) ?? 0) + 1) });
  let collections = 0;
  const observer = new PerformanceObserver((list) => (collections += list.getEntries().length));
  observer.observe({ entryTypes: ["gc"] });
  // A collection is reported to observers a turn or so after it ran: count from once this one's report is in.
  gc();
  await waitUntil("the forced collection's report", () => collections > 0, 5_000);
  collections = 0;
  const heapBefore = getHeapStatistics().used_heap_size;
  hook.enable();
  const result = await runStockClient("grpc-js", address, modeArgs, settings);
  hook.disable();
  const heapAfter = getHeapStatistics().used_heap_size;
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  const calls = Math.max(1, result.calls);
  console.log(`${options.mode} c=${options.concurrency}: ${result.calls} calls in ${result.seconds.toFixed(1)} s; per call (the harness's own few resources included):`);
  for (const [type, count] of [...created].sort((a, b) => b[1] - a[1])) console.log(`  ${type.padEnd(24)} ${(count / calls).toFixed(2)}`);
  const allocated = collections === 0 ? `${((heapAfter - heapBefore) / calls).toFixed(0)} bytes` : `not measured (${collections} collections ran in the window; give a larger --max-semi-space-size)`;
  console.log(`  heap allocated per call: ${allocated}`);
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
