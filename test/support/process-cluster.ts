// A cluster of real `loghouse serve` processes on loopback, for tests and the chaos run: start,
// SIGKILL, SIGSTOP/SIGCONT, restart (with or without its data), and read every node back.
import { spawn, type ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { BIN } from "./node-process.ts";
import { LoghouseClient, type ClientOptions } from "../../src/client/client.ts";
import type { StoredRecord } from "./replica-check.ts";
import { freePort } from "./free-port.ts";
import { waitUntilAsync } from "./wait-until.ts";

const READY_TIMEOUT_MS = 30_000;

/** Where each node listens and how its process is started: on loopback by default, or in a network namespace (network-lab.ts). */
export interface NodePlacement {
  address(id: number): string;
  wrap(id: number, command: string, args: readonly string[]): { command: string; args: string[] };
}

export class ProcessCluster {
  private readonly processes = new Map<number, ChildProcess>();
  /** The JSON lines each node printed (at --log-level warn: its warnings and errors), across restarts. */
  private readonly printed = new Map<number, Array<Record<string, unknown>>>();
  private readonly ports = new Map<number, number>();
  private readonly clients = new Map<number, LoghouseClient>();

  constructor(
    private readonly root: string,
    private readonly placement?: NodePlacement,
    /** More `loghouse serve` arguments for every node (a --config file, say), or per node (its certificate). */
    private readonly nodeArgs: readonly string[] | ((id: number) => readonly string[]) = [],
    /** How the test's clients connect (TLS and a certificate, for a secured cluster). */
    private readonly clientOptions: ClientOptions = {},
  ) {}

  /** Node `id`'s data directory. */
  dataDir(id: number): string {
    return join(this.root, `node-${id}`);
  }

  address(id: number): string {
    return this.placement?.address(id) ?? `127.0.0.1:${this.ports.get(id)}`;
  }

  isRunning(id: number): boolean {
    return this.processes.has(id);
  }

  /** Node `id`'s process id while it runs (a benchmark reads its CPU time). */
  pid(id: number): number | undefined {
    return this.processes.get(id)?.pid;
  }

  /** Starts node `id`: the first bootstraps, later ones join through `joinVia`; a restart resumes its data. */
  async start(id: number, options: { bootstrap?: boolean; joinVia?: number } = {}): Promise<void> {
    if (this.placement === undefined && !this.ports.has(id)) this.ports.set(id, await freePort());
    const args = ["serve", "--data-dir", this.dataDir(id), "--listen", this.address(id), "--node-id", String(id), "--log-level", "warn", ...(typeof this.nodeArgs === "function" ? this.nodeArgs(id) : this.nodeArgs)];
    if (options.bootstrap === true) args.push("--bootstrap");
    if (options.joinVia !== undefined) args.push("--join", this.address(options.joinVia));
    const { command, args: argv } = this.placement?.wrap(id, BIN, args) ?? { command: BIN, args };
    const child = spawn(command, argv, { stdio: ["ignore", "pipe", "inherit"] });
    this.processes.set(id, child);
    child.once("exit", () => {
      if (this.processes.get(id) === child) this.processes.delete(id);
    });
    const printed = this.printed.get(id) ?? [];
    this.printed.set(id, printed);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        printed.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        printed.push({ msg: line });
      }
    });
    await waitUntilAsync(`node ${id} to serve`, async () => (await this.client(id).healthStatus().catch(() => "")) === "SERVING", READY_TIMEOUT_MS);
  }

  /** What node `id` printed so far (its warnings and errors), as JSON lines. */
  lines(id: number): ReadonlyArray<Record<string, unknown>> {
    return this.printed.get(id) ?? [];
  }

  /** Forms a cluster of nodes 1..count: node 1 bootstraps, each next one joins through the one before. */
  async form(count = 3): Promise<void> {
    await this.start(1, { bootstrap: true });
    for (let id = 2; id <= count; id++) await this.start(id, { joinVia: id - 1 });
    await this.voters(1, count);
  }

  /** Sends `signal` to node `id` (SIGKILL ends it; SIGSTOP/SIGCONT pause and resume it). */
  async signal(id: number, signal: NodeJS.Signals): Promise<void> {
    const child = this.processes.get(id);
    if (child === undefined) return;
    if (signal !== "SIGKILL" && signal !== "SIGTERM") {
      child.kill(signal);
      return;
    }
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill(signal);
    await exited;
  }

  /** Deletes node `id`'s data directory (the node must be stopped). */
  async wipe(id: number): Promise<void> {
    await rm(this.dataDir(id), { recursive: true, force: true });
  }

  client(id: number): LoghouseClient {
    let client = this.clients.get(id);
    if (client === undefined) {
      client = new LoghouseClient(this.address(id), this.clientOptions);
      this.clients.set(id, client);
    }
    return client;
  }

  /** The leader's id once the running nodes agree on one that is running. */
  async leader(timeoutMs = 20_000): Promise<number> {
    return waitUntilAsync(
      "the nodes to agree on a leader",
      async () => {
        const views = await Promise.all(
          [...this.processes.keys()].map(async (id) => (await this.client(id).servers().catch(() => [])).find((server) => server.isLeader)?.id),
        );
        const agreed = views.length > 0 && views.every((view) => view !== undefined && view === views[0]);
        return agreed && this.processes.has(Number(views[0])) ? Number(views[0]) : undefined;
      },
      timeoutMs,
    );
  }

  /** Waits until node `id` reports `count` voters. */
  async voters(id: number, count: number, timeoutMs = 30_000): Promise<void> {
    await waitUntilAsync(`${count} voters`, async () => (await this.client(id).servers().catch(() => [])).filter((s) => s.isVoter).length === count, timeoutMs);
  }

  /** Every committed record node `id` holds, in offset order. */
  async records(id: number): Promise<StoredRecord[]> {
    const records: StoredRecord[] = [];
    for await (const record of this.client(id).consume({ from: "start" })) {
      records.push({ offset: Number(record.offset), type: record.type, value: Buffer.from(record.value).toString("hex") });
    }
    return records;
  }

  /**
   * Waits until nodes `ids` all end at the same offset, covering every acknowledged one, and returns
   * what each holds.
   */
  async converged(ids: readonly number[], acknowledged: ReadonlyMap<number, string>, timeoutMs: number): Promise<Map<number, StoredRecord[]>> {
    let end = 1;
    for (const offset of acknowledged.keys()) end = Math.max(end, offset + 1);
    await waitUntilAsync(
      "every node to hold every acknowledged record",
      async () => {
        const lists = await Promise.all(ids.map((id) => this.records(id).catch(() => [])));
        const last = lists.map((list) => list.at(-1)?.offset ?? -1);
        return last.every((offset) => offset >= end - 1 && offset === last[0]);
      },
      timeoutMs,
    );
    return new Map(await Promise.all(ids.map(async (id) => [id, await this.records(id)] as const)));
  }

  async stopAll(): Promise<void> {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
    for (const id of [...this.processes.keys()]) {
      await this.signal(id, "SIGCONT");
      await this.signal(id, "SIGKILL");
    }
  }
}
