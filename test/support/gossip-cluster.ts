// Named `loghouse serve` processes on loopback that form a cluster by gossip, with fast gossip timings
// (localGossipConfig through a config file) so that a failure shows within seconds: started, killed,
// wiped and restarted by name; their log lines kept for the autopilot's decisions.
import { writeFile, rm } from "node:fs/promises";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { LoghouseClient, type ClientOptions } from "../../src/client/client.ts";
import { Server_Liveness, type Server } from "../../src/gen/log/v1/log_pb.ts";
import { localGossipConfig } from "../../src/membership/gossip-config.ts";
import { cleanup } from "./cleanup.ts";
import { freePort } from "./free-port.ts";
import { startNode, stopNode, type NodeProcess } from "./node-process.ts";
import { tempDir } from "./temp-dir.ts";
import { waitUntilAsync } from "./wait-until.ts";

export class GossipCluster {
  private readonly processes = new Map<string, NodeProcess>();
  private readonly clients = new Map<string, LoghouseClient>();

  private constructor(
    private readonly t: TestContext,
    private readonly root: string,
    private readonly ports: ReadonlyMap<string, number>,
    /** Arguments every node gets (the config file, the autopilot's flags, certificates). */
    private readonly nodeArgs: (name: string) => readonly string[],
    private readonly clientOptions: ClientOptions,
  ) {}

  /** Ports for `names` and a config file with local gossip timings; `nodeArgs` are added to every node's. */
  static async make(t: TestContext, names: readonly string[], nodeArgs: (name: string) => readonly string[], clientOptions: ClientOptions = {}): Promise<GossipCluster> {
    const root = await tempDir(t);
    const ports = new Map<string, number>();
    for (const name of names) ports.set(name, await freePort());
    const { probeIntervalMs, probeTimeoutMs, gossipIntervalMs, suspicionMultiplier, pushPullIntervalMs, reconnectIntervalMs } = localGossipConfig;
    const gossip = { probeIntervalMs, probeTimeoutMs, gossipIntervalMs, suspicionMultiplier, pushPullIntervalMs, reconnectIntervalMs };
    await writeFile(join(root, "config.json"), JSON.stringify({ gossip }));
    return new GossipCluster(t, root, ports, (name) => ["--config", join(root, "config.json"), ...nodeArgs(name)], clientOptions);
  }

  address(name: string): string {
    return `127.0.0.1:${this.ports.get(name)}`;
  }

  /** Starts node `name` over its data directory, with `extra` arguments (--bootstrap, --join ...). */
  async start(name: string, ...extra: string[]): Promise<NodeProcess> {
    const args = ["--data-dir", join(this.root, name), "--listen", this.address(name), "--node-id", name, "--log-level", "info", ...this.nodeArgs(name), ...extra];
    const node = await startNode(args);
    cleanup(this.t, () => stopNode(node));
    this.processes.set(name, node);
    return node;
  }

  /** Starts a second process under member `name`'s name, with a data directory and a port of its own (an operator's mistake). */
  async startNamesake(name: string, ...extra: string[]): Promise<NodeProcess> {
    const args = ["--data-dir", join(this.root, `${name}-namesake`), "--listen", `127.0.0.1:${await freePort()}`, "--node-id", name, ...this.nodeArgs(name), ...extra];
    const node = await startNode(args);
    cleanup(this.t, () => stopNode(node));
    return node;
  }

  /** Sends `signal` (SIGKILL: a crash; SIGTERM: a graceful stop) and waits for the exit. */
  async stop(name: string, signal: NodeJS.Signals): Promise<void> {
    const node = this.processes.get(name)!;
    node.child.kill(signal);
    await node.exited;
    this.processes.delete(name);
  }

  /** Deletes node `name`'s data directory (stopped). */
  async wipe(name: string): Promise<void> {
    await rm(join(this.root, name), { recursive: true, force: true });
  }

  /** The JSON lines node `name` printed so far. */
  lines(name: string): NodeProcess["lines"] {
    return this.processes.get(name)!.lines;
  }

  client(name: string): LoghouseClient {
    let client = this.clients.get(name);
    if (client === undefined) {
      client = new LoghouseClient(this.address(name), this.clientOptions);
      this.clients.set(name, client);
      cleanup(this.t, () => client!.close());
    }
    return client;
  }

  /** GetServers as node `name` answers it (empty while it does not answer). */
  async servers(name: string): Promise<Server[]> {
    return this.client(name).servers().catch(() => []);
  }

  /** Waits until node `name` reports `count` members, every one alive by gossip. */
  async seesAllAlive(name: string, count: number, timeoutMs = 30_000): Promise<void> {
    await waitUntilAsync(`${name} to see ${count} members alive`, async () => {
      const servers = await this.servers(name);
      return servers.length === count && servers.every((server) => server.liveness === Server_Liveness.ALIVE);
    }, timeoutMs);
  }

  /** Waits until node `name` reports exactly `voters` (by name), no learner, and a leader; returns the leader's name. */
  async votersAre(name: string, voters: readonly string[], timeoutMs = 60_000): Promise<string> {
    const waiting = waitUntilAsync(`${name} to report voters ${voters.join(", ")}`, async () => {
      const servers = await this.servers(name);
      const ids = servers.filter((server) => server.isVoter).map((server) => server.id).sort();
      const leader = servers.find((server) => server.isLeader)?.id;
      return servers.length === voters.length && ids.join() === [...voters].sort().join() && leader;
    }, timeoutMs);
    return waiting.catch(async (error: Error) => {
      throw new Error(`${error.message}\n${await this.report()}`);
    });
  }

  /** What each node answers and its last warnings and membership lines: printed when a wait times out. */
  async report(): Promise<string> {
    const parts: string[] = [];
    for (const [name, node] of this.processes) {
      const exitCode = node.child.exitCode ?? node.child.signalCode;
      const servers = (await this.servers(name)).map((server) => `${server.id}${server.isLeader ? "*" : ""}:${server.isVoter ? "voter" : "learner"}:${Server_Liveness[server.liveness]}`);
      const lines = node.lines.filter((line) => line.level !== "info" || /join|admit|learner|promot|membership|elect|leader/.test(line.msg)).slice(-25);
      parts.push(`== ${name} (${exitCode === null ? "running" : `exited ${exitCode}`}) servers [${servers.join(" ")}]`, ...lines.map((line) => JSON.stringify(line)));
    }
    return parts.join("\n");
  }
}
