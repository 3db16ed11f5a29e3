// A cluster of replicas in this process, each with its own data directory, native log, state file
// and TCP transport on loopback: everything real but the process boundary.
import { join } from "node:path";
import type { DataLossError } from "../../src/errors.ts";
import { RaftStateFile } from "../../src/cluster/raft-state-file.ts";
import { RaftTransport } from "../../src/cluster/raft-transport.ts";
import { Replica } from "../../src/cluster/replica.ts";
import { systemTimers } from "../../src/cluster/timers.ts";
import { Role } from "../../src/raft/index.ts";
import { Log, type LogConfig } from "../../src/storage/index.ts";
import { waitUntil } from "./wait-until.ts";

export interface LocalNode {
  readonly id: number;
  readonly replica: Replica;
  readonly transport: RaftTransport;
  readonly log: Log;
  readonly stateFile: RaftStateFile;
}

export class LocalCluster {
  readonly nodes = new Map<number, LocalNode>();
  /** Damaged records that stopped a replica (this cluster does not repair them). */
  readonly damage: Array<{ readonly id: number; readonly error: DataLossError }> = [];
  private readonly ports = new Map<number, number>();

  constructor(
    private readonly root: string,
    readonly ids: readonly number[],
    private readonly proposalTimeoutMs = 30_000,
    private readonly logConfig: Partial<LogConfig> = {},
  ) {}

  /** Node `id`'s data log directory. */
  logDir(id: number): string {
    return join(this.root, `node-${id}`, "log");
  }

  async startAll(): Promise<void> {
    for (const id of this.ids) await this.start(id);
  }

  /** Starts (or restarts) node `id` from its data directory, on the port it had before if any. */
  async start(id: number): Promise<LocalNode> {
    const dir = join(this.root, `node-${id}`);
    const log = await Log.open(this.logDir(id), { ...this.logConfig, initialOffset: 1 });
    const stateFile = await RaftStateFile.open(join(dir, "raft-state.json"), {
      snapshot: { index: 1, term: 1, membership: { voters: [...this.ids], learners: [] } },
      addresses: {},
    });
    let replica: Replica | undefined;
    const transport = new RaftTransport({ nodeId: id, onMessage: (message) => replica?.receive(message), reconnectDelayMs: { min: 10, max: 100 } });
    const address = await transport.listen("127.0.0.1", this.ports.get(id) ?? 0);
    this.ports.set(id, address.port);
    replica = new Replica({
      nodeId: id,
      log,
      stateFile,
      send: (m) => transport.send(m),
      timers: systemTimers,
      tickMs: 10,
      seed: id * 7919,
      proposalTimeoutMs: this.proposalTimeoutMs,
      onDamage: (error) => this.damage.push({ id, error }),
      onWriteFailure: (error) => queueMicrotask(() => {
        throw error;
      }),
    });
    const node = { id, replica, transport, log, stateFile };
    this.nodes.set(id, node);
    for (const other of this.nodes.values()) {
      if (other.id !== id) {
        other.transport.setPeer(id, `127.0.0.1:${address.port}`);
        transport.setPeer(other.id, `127.0.0.1:${this.ports.get(other.id)}`);
      }
    }
    replica.start();
    return node;
  }

  /** Stops node `id` as a crash would from the others' point of view (its files stay). */
  async stop(id: number): Promise<void> {
    const node = this.nodes.get(id);
    if (node === undefined) return;
    this.nodes.delete(id);
    await node.replica.stop();
    await node.stateFile.close();
    await node.transport.close();
    await node.log.close();
  }

  async stopAll(): Promise<void> {
    for (const id of [...this.nodes.keys()]) await this.stop(id);
  }

  /** Waits until the running nodes agree on one leader, and returns it. */
  async leader(timeoutMs = 10_000): Promise<LocalNode> {
    return waitUntil("a leader", () => {
      const leaders = [...this.nodes.values()].filter((node) => node.replica.status().role === Role.Leader);
      if (leaders.length !== 1) return undefined;
      const id = leaders[0]!.id;
      return [...this.nodes.values()].every((node) => node.replica.status().lead === id) ? leaders[0] : undefined;
    }, timeoutMs);
  }
}
