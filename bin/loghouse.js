#!/usr/bin/env -S node --max-semi-space-size=32
// The `loghouse` command. It runs the JavaScript compiled into dist/ (npm run build; an installed
// package ships it). In a source checkout, dist/ is used only when it is newer than every file
// under src/: otherwise (missing, or src/ edited since) the sources run through tsx, slower to
// start but never stale, and `npm run build` (run by npm test and npm start) makes it fast again.
// A node allocates a short-lived object or two per record it handles; a 32 MiB young generation (the
// default is 16) lets nearly all of them die there instead of being copied and promoted, which
// saves about a tenth of a replicated node's CPU (bench:cluster). Run this file itself (npm start,
// npx loghouse, or spawning it) so that the flag applies.
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
