// Loaded into a node with `--import` (NODE_OPTIONS): appends every module specifier the process
// resolves through the ES module loader, one per line, to the file named by LOGHOUSE_IMPORTS_FILE, so
// a test can tell which packages a node loaded. The same file is the loader hook module: registered
// from the main thread, it runs its resolve() in the loader's own thread.
import { appendFileSync } from "node:fs";
import { register } from "node:module";
import { isMainThread } from "node:worker_threads";

let recordFile;

export function initialize(file) {
  recordFile = file;
}

export async function resolve(specifier, context, nextResolve) {
  appendFileSync(recordFile, `${specifier}\n`);
  return nextResolve(specifier, context);
}

if (isMainThread && process.env.LOGHOUSE_IMPORTS_FILE !== undefined) register(import.meta.url, { data: process.env.LOGHOUSE_IMPORTS_FILE });
