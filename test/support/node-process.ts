// A Loghouse node as a child process started through the real command line (bin/loghouse.js), for
// tests of what only a process shows: signals, crashes, CPU time and resident memory. Waits are
// for the node's own JSON log lines, with a bound; nothing sleeps.
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { processCpuMs, processStatusBytes } from "./proc-stats.ts";

export const BIN = fileURLToPath(new URL("../../bin/loghouse.js", import.meta.url));
const STARTUP_TIMEOUT_MS = 30_000;

export interface LogLine {
  readonly msg: string;
  readonly level: string;
  readonly [key: string]: unknown;
}

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly port: number;
  readonly address: string;
  /** Every JSON line the node printed so far. */
  readonly lines: LogLine[];
  /** Resolves with the exit code (or the signal's name). */
  readonly exited: Promise<number | string>;
  /** What the node wrote to stderr so far. */
  stderr(): string;
  /** Resolves with the first line (already printed or to come) that matches. */
  waitForLine(match: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  /** utime + stime of the process so far, in milliseconds (from /proc). */
  cpuMs(): number;
  /** Resident memory in bytes (from /proc). */
  rssBytes(): number;
  /**
   * Resident anonymous memory in bytes: the heap, buffers and everything else the process owns,
   * without file-backed pages (the storage's memory-mapped indexes), which the kernel can drop.
   */
  rssAnonBytes(): number;
}

/** Runs `loghouse serve` with `args` (through `bin`: this checkout's by default); resolves once it logged "listening". */
export async function startNode(args: readonly string[], env: NodeJS.ProcessEnv = {}, cwd?: string, bin = BIN): Promise<NodeProcess> {
  const child = spawn(bin, ["serve", ...args], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env }, cwd });
  const lines: LogLine[] = [];
  const watchers = new Set<{ match: (line: LogLine) => boolean; resolve: (line: LogLine) => void }>();
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  createInterface({ input: child.stdout! }).on("line", (text) => {
    let line: LogLine;
    try {
      line = JSON.parse(text) as LogLine;
    } catch {
      return;
    }
    lines.push(line);
    for (const watcher of watchers) {
      if (!watcher.match(line)) continue;
      watchers.delete(watcher);
      watcher.resolve(line);
    }
  });
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? -1)));
  const waitForLine = (match: (line: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> => {
    const seen = lines.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const watcher = {
        match,
        resolve: (line: LogLine) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      const timer = setTimeout(() => {
        watchers.delete(watcher);
        reject(new Error(`no matching log line within ${timeoutMs} ms; stderr: ${stderr}`));
      }, timeoutMs);
      watchers.add(watcher);
      void exited.then(() => {
        if (!watchers.has(watcher)) return;
        watchers.delete(watcher);
        clearTimeout(timer);
        reject(new Error(`node exited before the line; stderr: ${stderr}`));
      });
    });
  };
  const listening = await waitForLine((line) => line.msg === "listening", STARTUP_TIMEOUT_MS);
  const port = (listening.address as { port: number }).port;
  const pid = child.pid!;
  return {
    child,
    pid,
    port,
    address: `127.0.0.1:${port}`,
    lines,
    exited,
    stderr: () => stderr,
    waitForLine,
    cpuMs: () => processCpuMs(pid),
    rssBytes: () => processStatusBytes(pid, "VmRSS"),
    rssAnonBytes: () => processStatusBytes(pid, "RssAnon"),
  };
}

/** Stops a node still running at the end of a test. */
export async function stopNode(node: NodeProcess): Promise<void> {
  if (node.child.exitCode === null && node.child.signalCode === null) node.child.kill("SIGKILL");
  await node.exited;
}
