#!/usr/bin/env -S node --max-semi-space-size=64 --initial-old-space-size=64
// The `loghouse` command. It runs the JavaScript compiled into dist/ (npm run build; an installed
// package ships it). In a source checkout, dist/ is used only when it is newer than every file
// under src/: otherwise (missing, or src/ edited since) the sources run through tsx, slower to
// start but never stale, and `npm run build` (run by npm test and npm start) makes it fast again.
// A node allocates a short-lived object or two per record it handles; a large young generation (the
// default semi-space is 16 MiB) lets most of them die there instead of being copied and promoted.
// 32 MiB saved about a tenth of a replicated node's CPU (bench:cluster). A cluster member holds
// each entry until it is applied (a leader until the followers have it too), so a scavenge still
// copied many: 64 MiB took a node's CPU per record down another fifth under 4 x 10,000 x 100 B
// in flight, alternating runs of 5 s (one node 0.57-0.73 µs against 0.74-0.93; three nodes
// 393-515k records/s against 330-517k, medians 490k and 410k), for 55 MB more peak memory under an
// HTTP/2 rapid reset (339-342 MB against 280-289), with health checks' p99 there 49-53 ms
// against 32-37; 128 MiB was slower than 32. Its batches also pass through
// megabytes of memory outside the heap (HTTP/2 chunks, the request assembled from them), which V8
// counts against the old generation's limit: with the default limit, a heap of 13 MB that hardly
// grows was marked and compacted every 30 ms under ProduceBatch load, half of the node's main
// thread. A 64 MiB initial old space takes that to one every 125 ms: 2.5-2.8M records/s against
// 2.2-2.3M (4 x 10,000 x 100 B in flight, one node), for about 20 MB more peak memory (170-177
// against 151 MB). 128 MiB was 5-8% faster still, but a node under an HTTP/2 rapid reset then grew
// to 364 MB instead of 238-242 (test/server-defence-rapid-reset.test.ts), garbage being left to
// the larger limit. Run this file itself (npm start, npx loghouse, or spawning it) so that the
// flags apply.
import { readdirSync, statSync } from "node:fs";

const source = new URL("../src/", import.meta.url);

/** The latest modification time under `dir` (files and folders, so a deleted file counts too). */
function newestMs(dir) {
  let newest = statSync(dir).mtimeMs;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = new URL(entry.name + (entry.isDirectory() ? "/" : ""), dir);
    newest = Math.max(newest, entry.isDirectory() ? newestMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function distIsCurrent() {
  const built = statSync(new URL("../dist/.build-stamp", import.meta.url), { throwIfNoEntry: false });
  return built !== undefined && newestMs(source) <= built.mtimeMs;
}

if (statSync(source, { throwIfNoEntry: false }) === undefined || distIsCurrent()) {
  await import("../dist/cli/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}
