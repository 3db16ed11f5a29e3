// Reads a V8 CPU profile (node --cpu-prof writes one .cpuprofile per thread at exit) and prints where
// the main thread's time went: self time by function and by file, as totals and per call when the
// number of calls served meanwhile is given. It is how the findings in bench/stock-clients.ts were
// made; run a node under --cpu-prof, drive it with a stock client, stop it, then:
//
//   node --import tsx bench/support/cpu-profile-summary.ts FILE.cpuprofile [--calls N] [--top 30]
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface Profile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const { values: options, positionals } = parseArgs({
  allowPositionals: true,
  options: { calls: { type: "string" }, top: { type: "string", default: "30" } },
});
if (positionals.length !== 1) {
  console.error("usage: cpu-profile-summary.ts FILE.cpuprofile [--calls N] [--top 30]");
  process.exit(2);
}
const profile = JSON.parse(readFileSync(positionals[0]!, "utf8")) as Profile;
const calls = options.calls === undefined ? undefined : Number(options.calls);
const top = Number(options.top);

/** Where a file's time is counted: node_modules packages and node internals by name, ours by path. */
function fileOf(url: string): string {
  if (url === "") return "(native or VM)";
  const inModules = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (inModules !== null) return inModules[1]!;
  if (url.startsWith("node:")) return url;
  const ours = /\/(src|dist|bench|test)\/(.*)$/.exec(url);
  return ours === null ? url : `${ours[1]}/${ours[2]}`;
}

const nodesById = new Map(profile.nodes.map((node) => [node.id, node]));
const byFunction = new Map<string, number>();
const byFile = new Map<string, number>();
let totalMicros = 0;
let idleMicros = 0;
for (let i = 0; i < profile.samples.length; i++) {
  const node = nodesById.get(profile.samples[i]!)!;
  const micros = profile.timeDeltas[i] ?? 0;
  totalMicros += micros;
  const { functionName, url, lineNumber } = node.callFrame;
  if (functionName === "(idle)") {
    idleMicros += micros;
    continue;
  }
  const file = fileOf(url);
  const place = url.includes("node_modules/") ? url.slice(url.lastIndexOf("node_modules/") + 13) : file;
  const name = `${functionName || "(anonymous)"} ${place}${url === "" ? "" : `:${lineNumber + 1}`}`;
  byFunction.set(name, (byFunction.get(name) ?? 0) + micros);
  byFile.set(file, (byFile.get(file) ?? 0) + micros);
}
const busyMicros = totalMicros - idleMicros;

function print(title: string, totals: Map<string, number>): void {
  console.log(`\n${title}`);
  const rows = [...totals].sort((a, b) => b[1] - a[1]).slice(0, top);
  for (const [name, micros] of rows) {
    const share = ((100 * micros) / busyMicros).toFixed(1).padStart(5);
    const perCall = calls === undefined ? "" : `${(micros / calls).toFixed(1).padStart(8)} µs/call`;
    console.log(`${share}% ${perCall}  ${name}`);
  }
}

console.log(
  `profile: ${(totalMicros / 1e6).toFixed(2)} s, idle ${((100 * idleMicros) / totalMicros).toFixed(1)}%, busy ${(busyMicros / 1e3).toFixed(0)} ms` +
    (calls === undefined ? "" : `, ${calls} calls: ${(busyMicros / calls).toFixed(1)} µs busy per call`),
);
print("self time by file (share of busy time)", byFile);
print("self time by function", byFunction);
