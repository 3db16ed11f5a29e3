// The benchmark and fault-run scripts as a user runs them: each answers --help with its usage and
// runs nothing; a short run of the Raft benchmark, of the simulator and of the fault run (chaos)
// writes its JSON with an SVG chart beside it, and the SVG is well-formed XML holding the trials (or
// faults) it reports.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { tempDir } from "./support/temp-dir.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const SCRIPTS = ["storage", "server", "cluster", "raft-core", "stock-clients", "server-frameworks", "chaos", "sim"];

function runScript(script: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ stdout: string; code: number }> {
  return promisify(execFile)(process.execPath, ["--import", "tsx", join(ROOT, "bench", `${script}.ts`), ...args], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 }).then(
    ({ stdout }) => ({ stdout, code: 0 }),
    (error: { stdout: string; code: number }) => ({ stdout: error.stdout, code: error.code }),
  );
}

/** The SVG written beside the one JSON in `dir`, checked to be well-formed; with the JSON's contents. */
async function picture(dir: string): Promise<{ svg: string; data: unknown; texts: string[] }> {
  const files = (await readdir(dir)).sort();
  assert.equal(files.length, 2, `expected a JSON and an SVG, found ${files.join(", ")}`);
  const [json, svgFile] = files as [string, string];
  assert.match(json, /\.json$/);
  assert.equal(svgFile, json.replace(/\.json$/, ".svg"));
  const svg = await readFile(join(dir, svgFile), "utf8");
  assert.equal(XMLValidator.validate(svg), true);
  const texts: string[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) return node.forEach(walk);
    if (typeof node !== "object" || node === null) return;
    for (const [key, value] of Object.entries(node)) {
      if (key === "text") texts.push(...[value].flat().map((t) => String((t as { "#text"?: unknown })["#text"] ?? t)));
      else walk(value);
    }
  };
  walk(new XMLParser({ ignoreAttributes: true, isArray: () => false }).parse(svg));
  return { svg, data: JSON.parse(await readFile(join(dir, json), "utf8")), texts };
}

test("every benchmark script answers --help with its usage and runs nothing", async (t) => {
  const results = await tempDir(t);
  for (const script of SCRIPTS) {
    const { stdout, code } = await runScript(script, ["--help"], { LOGHOUSE_BENCH_RESULTS: results });
    assert.equal(code, 0, script);
    assert.match(stdout, /^usage: /, script);
    assert.doesNotMatch(stdout, /results written/, script);
  }
  assert.deepEqual(await readdir(results), []);
});

test("a benchmark run draws throughput per trial beside its JSON", async (t) => {
  const results = await tempDir(t);
  const { stdout, code } = await runScript("raft-core", ["--trials", "2", "--batches", "20"], { LOGHOUSE_BENCH_RESULTS: results });
  assert.equal(code, 0, stdout);
  assert.match(stdout, /chart written to .*raft-core-.*\.svg/);
  const { data, texts } = await picture(results);
  assert.equal((data as { coreEntriesPerSecond: number[] }).coreEntriesPerSecond.length, 2);
  for (const label of ["raft core, trial 1", "raft core, trial 2", "floor (arrays), trial 2"]) assert.ok(texts.includes(label), label);
  assert.ok(texts.some((text) => text.startsWith("throughput per trial")));
});

test("a simulator run prints progress and its faults, and draws them per seed", async (t) => {
  const results = await tempDir(t);
  const { stdout, code } = await runScript("sim", ["--seeds", "3", "--nodes", "3"], { LOGHOUSE_BENCH_RESULTS: results });
  assert.equal(code, 0, stdout);
  assert.match(stdout, /3\/3 seeds, 0 violations/);
  const summary = /faults over the run: crashes (\d+), leader terms (\d+), membership changes (\d+), disks lost (\d+), violations 0/.exec(stdout);
  assert.ok(summary !== null, stdout);
  const { data, texts } = await picture(results);
  const seeds = (data as { seeds: { seed: number; stats: { crashes: number } }[] }).seeds;
  assert.deepEqual(seeds.map((s) => s.seed), [1, 2, 3]);
  assert.equal(seeds.reduce((sum, s) => sum + s.stats.crashes, 0), Number(summary[1]));
  assert.ok(texts.includes(`crashes (${summary[1]})`), texts.join(" | "));
  assert.ok(texts.includes("violations (0)"));
});

test("a short chaos run prints its faults as they happen and draws them over time", async (t) => {
  const results = await tempDir(t);
  const { stdout, code } = await runScript("chaos", ["--minutes", "0.1", "--seed", "7"], { LOGHOUSE_BENCH_RESULTS: results });
  assert.equal(code, 0, stdout);
  assert.match(stdout, /faults per minute: \d+/);
  const printed = Number(/^faults (\d+) /m.exec(stdout)?.[1]);
  const { data, texts } = await picture(results);
  const faults = (data as { faults: { kind: string; atMs: number }[] }).faults;
  assert.equal(faults.length, printed);
  const lanes = texts.map((text) => /^(\S+) \((\d+)\)$/.exec(text)).filter((match) => match !== null);
  assert.equal(lanes.reduce((sum, match) => sum + Number(match[2]), 0), printed);
  for (const match of lanes) assert.equal(faults.filter((fault) => fault.kind === match[1]).length, Number(match[2]));
  assert.ok(texts.includes("faults over time"));
});
