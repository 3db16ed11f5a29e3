import { assert } from "../raft/assert.ts";
import { emptyMembership } from "../raft/types.ts";
import { parseMembershipChange, ScenarioEnv } from "./scenario.ts";

/**
 * Golden-file scripts in the style of etcd-io/raft's datadriven tests: a command line, a `----` line,
 * then the expected output up to a blank line. Lines starting with `#` are comments.
 */
export interface ScriptCase {
  readonly command: string;
  readonly expected: string;
  /** Comment lines and blank lines that precede the command, kept when the file is rewritten. */
  readonly preamble: readonly string[];
}

export function parseScript(text: string): ScriptCase[] {
  const lines = text.split("\n");
  const cases: ScriptCase[] = [];
  let preamble: string[] = [];
  let i = 0;
  while (i < lines.length) {
    const line = lines[i] as string;
    if (line.trim() === "" || line.startsWith("#")) {
      preamble.push(line);
      i++;
      continue;
    }
    assert(lines[i + 1] === "----", `line ${i + 2}: expected ---- after "${line}"`);
    let j = i + 2;
    const output: string[] = [];
    while (j < lines.length && (lines[j] as string) !== "") output.push(lines[j++] as string);
    cases.push({ command: line, expected: output.join("\n"), preamble });
    preamble = [];
    i = j;
  }
  return cases;
}

/** Writes cases back with `actual` outputs (used to regenerate golden files). */
export function formatScript(cases: readonly ScriptCase[], actual: readonly string[]): string {
  const parts: string[] = [];
  cases.forEach((c, index) => {
    const preamble = c.preamble.filter((line, k) => !(k === 0 && line === "" && index > 0));
    parts.push(...preamble, c.command, "----", actual[index] as string, "");
  });
  return parts.join("\n");
}

/** Runs one command against `env` and returns its output ("ok" when it prints nothing). */
export function runCommand(env: ScenarioEnv, command: string): string {
  const words = command.trim().split(/\s+/);
  const name = words[0] as string;
  const args = words.slice(1);
  const lines = dispatch(env, name, args);
  return lines.length === 0 ? "ok" : lines.join("\n");
}

function dispatch(env: ScenarioEnv, name: string, args: string[]): string[] {
  const id = (k: number): number => {
    const value = Number(args[k]);
    assert(Number.isSafeInteger(value) && value > 0, `${name}: argument ${k + 1} must be a node id`);
    return value;
  };
  switch (name) {
    case "add-nodes":
      return addNodes(env, args);
    case "campaign":
      return env.campaign(id(0));
    case "tick":
      return env.tick(id(0), Number(args[1] ?? 1));
    case "propose":
      return env.propose(id(0), args.slice(1));
    case "membership":
      return env.proposeMembership(id(0), parseMembershipChange(args[1] ?? "", id(2)));
    case "transfer":
      return env.transfer(id(0), id(1));
    case "process-ready":
      return args.flatMap((_, k) => env.processReady(id(k)));
    case "deliver": {
      const drop = args.find((a) => a.startsWith("drop="));
      return env.deliver(id(0), drop === undefined ? [] : parseIds(drop.slice(5)));
    }
    case "stabilize":
      return env.stabilize();
    case "partition":
      return env.partition(args.map(parseIds));
    case "heal":
      return env.heal();
    case "restart":
      return env.restart(id(0));
    case "compact":
      return env.compact(id(0), Number(args[1]));
    case "status":
      return args.flatMap((_, k) => env.status(id(k)));
    case "log":
      return args.flatMap((_, k) => env.log(id(k)));
    default:
      throw new Error(`unknown command ${name}`);
  }
}

/** `add-nodes N [first=K] [voters=(..)] [empty]`: N servers from id K (default: next free id). */
function addNodes(env: ScenarioEnv, args: string[]): string[] {
  const count = Number(args[0]);
  const options = new Map(args.slice(1).map((a) => [a.split("=")[0] as string, a.split("=")[1] ?? ""]));
  const first = options.has("first") ? Number(options.get("first")) : Math.max(0, ...env.nodes.keys()) + 1;
  const ids = Array.from({ length: count }, (_, k) => first + k);
  if (options.has("empty")) return env.addNodes(ids, { index: 0, term: 0, membership: emptyMembership });
  const voters = options.has("voters") ? parseIds(options.get("voters") as string) : ids;
  return env.addNodes(ids, { index: 1, term: 1, membership: { voters, learners: [] } });
}

function parseIds(text: string): number[] {
  const inner = text.replace(/^\(/, "").replace(/\)$/, "");
  return inner === "" ? [] : inner.split(",").map(Number);
}

/** Runs a whole script; returns the cases and the actual output of each. */
export function runScript(text: string, seed = 1): { cases: ScriptCase[]; actual: string[] } {
  const env = new ScenarioEnv(seed);
  const cases = parseScript(text);
  const actual = cases.map((c) => runCommand(env, c.command));
  return { cases, actual };
}
