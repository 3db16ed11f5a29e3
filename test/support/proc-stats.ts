// What /proc says about a process: CPU time used so far and memory, for tests and benchmarks that
// measure a node (or a baseline server) from outside.
import { readFileSync } from "node:fs";

/** Clock ticks per second in /proc/PID/stat (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** utime + stime of process `pid` so far (all its threads), in milliseconds. */
export function processCpuMs(pid: number): number {
  return cpuMsOf(`/proc/${pid}/stat`);
}

/**
 * utime + stime of process `pid`'s main thread so far, in milliseconds: for a node, its event loop
 * (JavaScript, HTTP/2), without the thread-pool worker that writes and fdatasyncs, nor V8's helpers.
 */
export function mainThreadCpuMs(pid: number): number {
  return cpuMsOf(`/proc/${pid}/task/${pid}/stat`);
}

function cpuMsOf(statPath: string): number {
  const fields = readFileSync(statPath, "utf8").split(") ")[1]!.split(" ");
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_SECOND;
}

/** A kB field of /proc/PID/status (VmRSS, RssAnon, ...) in bytes. */
export function processStatusBytes(pid: number, field: string): number {
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(match![1]) * 1024;
}
