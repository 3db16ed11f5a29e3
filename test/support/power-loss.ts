// A power-loss crash model for storage tests. A child process runs under strace, which records
// every file operation it makes (the native addon's writes and syncs included), so production code
// needs no hook. Replaying the record gives, at any moment, what a power loss would leave: each
// file's contents as of its last fsync/fdatasync (empty if never synced; memory-mapped writes are
// never seen, so an index file that was never synced comes back empty), and the directory's entries
// (creates, removes, renames) as of the directory's last fsync. Everything else is lost.
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

const TRACED_CALLS = "openat,close,write,pwrite64,pwritev,ftruncate,fallocate,fdatasync,fsync,unlink,unlinkat,rename,renameat,renameat2";

/** Why the model cannot run here, or undefined when it can. */
export function powerLossUnavailable(): string | undefined {
  const probe = spawnSync("strace", ["-f", "--seccomp-bpf", "-e", "trace=fsync", "-o", "/dev/null", "true"], { stdio: "ignore" });
  if (probe.error !== undefined) return "strace is not installed (apt-get install strace): the power-loss model records file operations with it";
  if (probe.status !== 0) return `strace cannot trace here (exit ${probe.status}; ptrace not permitted?)`;
  return undefined;
}

/** Runs `node args...` under strace, recording its file operations in `traceFile`. */
export function spawnTraced(traceFile: string, args: readonly string[]): ChildProcess {
  const strace = ["-f", "--seccomp-bpf", "-y", "-xx", "-s", String(1 << 20), "-e", `trace=${TRACED_CALLS}`, "-e", "signal=none", "-o", traceFile];
  return spawn("strace", [...strace, process.execPath, ...args], { stdio: ["ignore", "pipe", "inherit"] });
}

/** The files a power loss would leave in the directory, and the child's standard output written before it. */
export interface PowerLossPoint {
  readonly output: string;
  readonly files: ReadonlyMap<string, Buffer>;
}

interface Inode {
  current: Buffer;
  durable: Buffer;
}

/**
 * Replays a trace of operations on `directory`, which held `initial` (all durable) when the traced
 * process started, and returns the state a power loss leaves right after each write to standard
 * output (so every acknowledgement printed before the point is covered by it), and with
 * `everySync` also right before each fsync and fdatasync: together, every durable state of the run.
 */
export function powerLossPoints(trace: string, directory: string, initial: ReadonlyMap<string, Buffer>, everySync = false): PowerLossPoint[] {
  const entries = new Map<string, Inode>();
  for (const [name, bytes] of initial) entries.set(name, { current: Buffer.from(bytes), durable: bytes });
  let durableEntries = new Map(entries);
  const fds = new Map<number, Inode | "directory">();
  const points: PowerLossPoint[] = [];
  let output = "";
  const nameIn = (path: string): string | undefined => (dirname(path) === directory ? path.slice(directory.length + 1) : undefined);
  const inodeOf = (fd: number): Inode | "directory" | undefined => fds.get(fd);
  for (const call of completedCalls(trace)) {
    const { name, args, result } = call;
    if (everySync && (name === "fsync" || name === "fdatasync")) {
      points.push({ output, files: durableFiles(durableEntries) });
    }
    switch (name) {
      case "openat": {
        const path = decode(stringArgument(args, 0));
        if (path === directory) {
          fds.set(result, "directory");
          break;
        }
        const file = nameIn(path);
        if (file === undefined) break;
        let inode = entries.get(file);
        if (inode === undefined) {
          assert.match(args, /O_CREAT/, `open of missing ${file} without O_CREAT succeeded`);
          inode = { current: Buffer.alloc(0), durable: Buffer.alloc(0) };
          entries.set(file, inode);
        }
        if (/O_TRUNC/.test(args)) inode.current = Buffer.alloc(0);
        fds.set(result, inode);
        break;
      }
      case "close":
        fds.delete(leadingFd(args));
        break;
      case "write": {
        const fd = leadingFd(args);
        if (fd === 1) {
          output += decode(stringArgument(args, 0)).slice(0, result);
          points.push({ output, files: durableFiles(durableEntries) });
        }
        assert.ok(!(inodeOf(fd) instanceof Object), "write() to a file in the directory is not modelled");
        break;
      }
      case "pwrite64":
      case "pwritev": {
        const inode = inodeOf(leadingFd(args));
        if (!(inode instanceof Object)) break;
        const data = Buffer.from(allStrings(args).join(""), "latin1").subarray(0, result);
        const position = Number(/(\d+)\s*$/.exec(args)![1]);
        writeAt(inode, position, data);
        break;
      }
      case "ftruncate": {
        const inode = inodeOf(leadingFd(args));
        if (inode instanceof Object) inode.current = resized(inode.current, Number(/,\s*(\d+)\s*$/.exec(args)![1]));
        break;
      }
      case "fallocate": {
        const inode = inodeOf(leadingFd(args));
        const [, mode, offset, length] = /,\s*(\d+),\s*(\d+),\s*(\d+)\s*$/.exec(args) ?? [];
        if (inode instanceof Object && mode === "0") inode.current = resized(inode.current, Math.max(inode.current.length, Number(offset) + Number(length)));
        break;
      }
      case "fsync":
      case "fdatasync": {
        const inode = inodeOf(leadingFd(args));
        if (inode === "directory") durableEntries = new Map(entries);
        else if (inode !== undefined) inode.durable = Buffer.from(inode.current);
        break;
      }
      case "unlink":
      case "unlinkat": {
        const file = nameIn(decode(stringArgument(args, 0)));
        if (file !== undefined) entries.delete(file);
        break;
      }
      case "rename":
      case "renameat":
      case "renameat2": {
        const source = nameIn(decode(stringArgument(args, 0)));
        const target = nameIn(decode(stringArgument(args, 1)));
        if (source === undefined && target === undefined) break;
        assert.ok(source !== undefined && target !== undefined, "renames into or out of the directory are not modelled");
        entries.set(target, entries.get(source)!);
        entries.delete(source);
        break;
      }
    }
  }
  return points;
}

function durableFiles(durableEntries: ReadonlyMap<string, Inode>): Map<string, Buffer> {
  return new Map([...durableEntries].map(([name, inode]) => [name, inode.durable]));
}

function writeAt(inode: Inode, position: number, data: Buffer): void {
  if (inode.current.length < position + data.length) inode.current = resized(inode.current, position + data.length);
  data.copy(inode.current, position);
}

function resized(bytes: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  bytes.copy(out, 0, 0, Math.min(length, bytes.length));
  return out;
}

/** System calls that returned successfully, in the order they completed, with their arguments. */
function* completedCalls(trace: string): Generator<{ name: string; args: string; result: number }> {
  const unfinished = new Map<string, string>();
  for (const line of trace.split("\n")) {
    const match = /^(\d+)\s+(.*)$/.exec(line);
    if (match === null) continue;
    const [, pid, rest] = match as unknown as [string, string, string];
    if (rest.endsWith("<unfinished ...>")) {
      unfinished.set(pid, rest.slice(0, -"<unfinished ...>".length));
      continue;
    }
    let text = rest;
    const resumed = /^<\.\.\. \w+ resumed>(.*)$/.exec(rest);
    if (resumed !== null) {
      text = (unfinished.get(pid) ?? "") + resumed[1];
      unfinished.delete(pid);
    }
    const call = /^(\w+)\((.*)\)\s+=\s+(-?\d+)/.exec(text);
    if (call === null || Number(call[3]) < 0) continue;
    yield { name: call[1]!, args: call[2]!, result: Number(call[3]) };
  }
}

const STRING = /"((?:\\x[0-9a-f]{2})*)"(\.\.\.)?/g;

function allStrings(args: string): string[] {
  return [...args.matchAll(STRING)].map((m) => {
    assert.equal(m[2], undefined, "strace cut a string short: raise -s");
    return decode(m[1]!);
  });
}

function stringArgument(args: string, index: number): string {
  const strings = [...args.matchAll(STRING)];
  assert.ok(strings.length > index, `no string argument ${index} in ${args.slice(0, 200)}`);
  return strings[index]![1]!;
}

/** Decodes strace's -xx form (every byte as \xHH) into a latin1 string. */
function decode(hex: string): string {
  return hex.includes("\\x") ? Buffer.from(hex.replaceAll("\\x", ""), "hex").toString("latin1") : hex;
}

function leadingFd(args: string): number {
  return Number(/^(\d+)/.exec(args)![1]);
}

/** The regular files of a directory, by name. */
export async function readFiles(directory: string): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(directory, { withFileTypes: true })) {
    if (entry.isFile()) files.set(entry.name, await readFile(join(directory, entry.name)));
  }
  return files;
}

/** Makes `directory` hold exactly `files`. */
export async function writeFiles(directory: string, files: ReadonlyMap<string, Buffer>): Promise<void> {
  for (const name of await readdir(directory)) await rm(join(directory, name), { recursive: true, force: true });
  for (const [name, bytes] of files) await writeFile(join(directory, name), bytes);
}
